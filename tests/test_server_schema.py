"""schemathesis against the app's own OpenAPI schema: no request makes a 5xx."""

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from bot.server.app import create_app
from tests.conftest import ROOT


class _NotYet:
    """Stands in for the agent until the session's agent fixture is there."""

    async def aclose(self):
        pass


def _app():
    from bot.settings import Settings

    app = create_app(Settings(environment="test", outbox_interval_s=0,
                              rate_limit_per_minute=100000, routing_path=str(ROOT / "routing"),
                              domain_path=str(ROOT / "domain.yml"),
                              rules_path=str(ROOT / "data" / "rules.yml")))
    app.state.agent = _NotYet()  # reading the schema needs no agent
    return app


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_server_schema_no_server_errors(case, agent):
    APP.state.agent = agent
    case.call_and_validate(checks=[not_a_server_error])
