"""`bpbot`: thin typer commands over importable functions."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.constants import (
    DEFAULT_CONFIG_PATH,
    DEFAULT_DATA_PATH,
    DEFAULT_DOMAIN_PATH,
    DEFAULT_MODELS_PATH,
    DEFAULT_ROUTING_PATH,
)
from bot.errors import BotError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Business Porvoo enquiry assistant: train and test the NLU, chat, serve the "
                  "web widget and the staff inbox, and look after the data.")

ConfigOpt = Annotated[Path, typer.Option("--config", help="Pipeline config (config.yml).")]
DataOpt = Annotated[list[Path] | None, typer.Option(
    "--data", help="NLU data file or folder; repeat for several.")]
ModelOpt = Annotated[Path | None, typer.Option(
    "--model", help="Model folder; default: the live one (`bpbot models promote`).")]
RoutingOpt = Annotated[Path, typer.Option("--routing", help="Routing table folder.")]


def _fail(exc: BotError) -> None:
    typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _data(paths: list[Path] | None) -> list[str | Path]:
    return list(paths) if paths else [DEFAULT_DATA_PATH]


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


@app.command("train")
def train_cli(config: ConfigOpt = Path(DEFAULT_CONFIG_PATH), data: DataOpt = None,
              out: Annotated[Path, typer.Option("--out", help="Folder for models.")] = Path(
                  DEFAULT_MODELS_PATH)) -> None:
    """Train a model and write it to a new versioned folder."""
    from bot.training import train_project

    try:
        path, manifest = train_project(config, _data(data), out, progress=True)
    except BotError as exc:
        _fail(exc)
    typer.echo(f"Model written to {path} in {manifest['training_time_s']} s")
    for lang, m in manifest["metrics"]["cross_validation"].items():
        typer.echo(f"  {lang:>3}: cross-validated accuracy {m['accuracy']:.3f} "
                   f"(macro F1 {m['macro_f1']:.3f}, n={m['support']})")
    typer.echo(f"Candidate {path.name}: `bpbot models promote {path.name}` compares it with "
               "the live model and makes it live when it is not worse.")


models_app = typer.Typer(help="Trained models: list them, promote a candidate through the "
                         "regression gate, roll back.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def _database() -> Any:
    """The configured database (BPBOT_DATABASE_URL); exit 2 when its schema is outdated."""
    from bot.errors import SchemaOutdatedError
    from bot.settings import get_settings
    from bot.store.db import Database

    try:
        return Database.from_settings(get_settings())
    except SchemaOutdatedError as exc:
        typer.secho(f"Error: {exc.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


@models_app.command("list")
def models_list_cli() -> None:
    """Every trained model, newest first; the live one marked."""
    from bot.registry import live_model_id, models
    from bot.settings import get_settings

    settings = get_settings()
    live = live_model_id(_database())
    found = models(settings.models_path)
    if not found:
        typer.echo(f"No models in {settings.models_path}/; `bpbot train` makes one.")
        return
    for info in found:
        mark = "live" if info.model_id == live else ""
        accuracy = " ".join(f"{lang} {a:.3f}" for lang, a in sorted(info.accuracy.items()))
        typer.echo(f"{info.model_id:<28} {mark:<14} {info.trained_at:<26} {accuracy}")
    if live is None:
        typer.echo("Nothing is live yet: `bpbot models promote ID` makes a model live.")


@models_app.command("promote")
def models_promote_cli(
        model_id: Annotated[str | None, typer.Argument(
            help="The candidate; default: the newest model.")] = None,
        force: Annotated[bool, typer.Option(
            "--force", help="Make it live even when the gate refuses (needs --reason).")] = False,
        reason: Annotated[str | None, typer.Option(
            "--reason", help="Why (recorded with the promotion).")] = None,
        first: Annotated[bool, typer.Option(
            "--first", help="Only when nothing is live yet (a fresh install): promote the "
            "newest model; with a live model, change nothing.")] = False,
        config: ConfigOpt = Path(DEFAULT_CONFIG_PATH)) -> None:
    """Compare a candidate with the live model (held-out enquiries, stories); make it live.

    The folder must load (format, arrays) and is recorded by its digest: servers load
    only that folder as it was promoted.
    """
    from bot.config import load_config
    from bot.errors import PromotionError
    from bot.gate import run_gate
    from bot.registry import live_promotion, models, promotable, record_promotion, renew_live
    from bot.settings import get_settings

    if force and not (reason or "").strip():
        typer.secho("Error: --force needs --reason TEXT (it is recorded with the promotion).",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    settings = get_settings()
    db = _database()
    if first and (current := live_promotion(db)) is not None:
        typer.echo(f"{current.model_id} is live; --first changes nothing.")
        return
    found = {info.model_id: info for info in models(settings.models_path)}
    if not found:
        typer.secho(f"Error: no models in {settings.models_path}/; run `bpbot train` first.",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    chosen = model_id or next(iter(found))
    if chosen not in found:
        typer.secho(f"Error: no model '{chosen}' in {settings.models_path}/. Models: "
                    f"{', '.join(found)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    current = live_promotion(db)
    live = current.model_id if current else None
    try:
        path, digest = promotable(settings.models_path, chosen)
        if current is not None and live == chosen:
            renewed = renew_live(db, current, digest)
            typer.echo(f"{chosen} is already live" + ("; its digest is recorded now."
                                                      if renewed else "."))
            return
        result = run_gate(path, found[live].path if live in found else None,
                          settings, load_config(config).gate, typer.echo)
        if promotable(settings.models_path, chosen)[1] != digest:
            raise PromotionError(f"'{chosen}' changed while the gate ran; promote it again.")
    except BotError as exc:
        _fail(exc)
    typer.echo(result.table)
    for why in result.reasons:
        typer.secho(f"  refused: {why}", fg=typer.colors.RED)
    if not result.passed and not force:
        typer.echo(f"{chosen} stays a candidate. Improve it, or `--force --reason TEXT`.")
        raise typer.Exit(1)
    record_promotion(db, chosen, digest=digest, forced=not result.passed, reason=reason,
                     report=result.as_dict())
    typer.echo(f"{chosen} is live{' (forced)' if not result.passed else ''}; every server "
               "process switches to it within seconds.")


@models_app.command("rollback")
def models_rollback_cli(reason: Annotated[str | None, typer.Option(
        "--reason", help="Why (recorded).")] = None) -> None:
    """Step back: the model live before the current one is live again (then the one before).

    Refused when there is none, or its folder is gone, changed or would not load.
    """
    from bot.registry import rollback
    from bot.settings import get_settings

    try:
        row = rollback(_database(), get_settings().models_path, reason)
    except BotError as exc:
        _fail(exc)
    typer.echo(f"{row.model_id} is live again (instead of {row.previous_model_id}).")


@models_app.command("convert")
def models_convert_cli(
        path: Annotated[Path | None, typer.Argument(
            help="A format-3 model folder (classifier.pkl).")] = None,
        every: Annotated[bool, typer.Option(
            "--all", help="Every format-3 model in the models folder.")] = False) -> None:
    """Rewrite old format-3 models (a scikit-learn pickle) as format 4 (arrays, no code).

    The only command that reads a pickle: loading never does, and refuses format 3.
    """
    from bot.nlu.model import convert_model, convertible_models
    from bot.settings import get_settings

    if (path is None) == (not every):
        typer.secho("Error: give one model folder, or --all.", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    models_dir = get_settings().models_path
    folders = [path] if path is not None else convertible_models(models_dir)
    if not folders:
        typer.echo(f"No format-3 models in {models_dir}/.")
        return
    typer.secho("Reading old pickles (classifier.pkl): unpickling can run code, so only the "
                "classes a classifier is made of are admitted. Convert only models you "
                "trained yourself.", fg=typer.colors.YELLOW, err=True)
    failed = False
    for folder in folders:
        try:
            convert_model(folder)
        except BotError as exc:
            typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
            failed = True
            continue
        typer.echo(f"{folder}: converted to format 4 (predictor.npz); classifier.pkl removed. "
                   "If it was live, promote it again to record its files.")
    if failed:
        raise typer.Exit(2)


@app.command("test")
def test_cli(model: ModelOpt = None, data: DataOpt = None, config: ConfigOpt = Path(
        DEFAULT_CONFIG_PATH),
             out: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path(
                 "reports"),
             cross_validation: Annotated[bool, typer.Option(
                 "--cross-validation", help="Train and test in folds on --data.")] = False,
             folds: Annotated[int, typer.Option("--folds", min=2, max=20)] = 5,
             routing_file: Annotated[Path | None, typer.Option(
                 "--enquiries", help="JSON Lines of labelled enquiries {text, language, unit}: "
                 "write routing_report.json (right / offered / ask / partial / wrong per language "
                 "and kind; lines may give several 'units').")] = None,
             routing: RoutingOpt = Path(DEFAULT_ROUTING_PATH),
             stories: Annotated[Path | None, typer.Option(
                 "--stories", help="Test stories (file or folder): play each conversation "
                 "and write story_report.json.")] = None) -> None:
    """Write intent_report.json (Rasa format), per-language reports and confusion matrices."""
    from bot.config import load_config
    from bot.nlu.evaluation import cross_validate, test_model
    from bot.nlu.model import load_model
    from bot.nlu.training_data import load_training_data

    try:
        if stories is not None:
            if not _story_report(model, stories, out):
                raise typer.Exit(1)
            return
        if routing_file is not None:
            _routing_report(model, routing, [routing_file], out)
            if data is None:
                return
        if data is None and not cross_validation:
            # Without --data: the held-out enquiries (what the gate compares), never the
            # training data, which a model always scores well on.
            from bot.gate import labelled_files

            files = labelled_files(load_config(config).gate.heldout)
            if not files:
                raise typer.BadParameter("no held-out enquiries found (config.yml gate.heldout); "
                                         "give --data or --enquiries")
            typer.echo("Held-out enquiries: " + ", ".join(str(f) for f in files))
            _routing_report(model, routing, files, out)
            return
        training_data = load_training_data(_data(data))
        if cross_validation:
            summary = cross_validate(load_config(config), training_data, out, folds=folds)
        else:
            nlu = load_model(model or _live_model(), with_entities=False)
            summary = test_model(nlu, training_data, out)
    except BotError as exc:
        _fail(exc)
    for lang, m in summary.items():
        typer.echo(f"  {lang:>3}: accuracy {m['accuracy']:.3f} (n={m['support']})")
    typer.echo(f"Reports written to {out}/")


def _live_model() -> Path:
    """The live model (recorded in the database, digest checked), or the pinned folder.

    Raises:
        NoLiveModelError: nothing promoted and no folder pinned (BPBOT_MODELS_PATH).
    """
    from bot.errors import NoLiveModelError
    from bot.registry import live_model_path, pinned_model
    from bot.settings import get_settings

    settings = get_settings()
    url = settings.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        pinned = pinned_model(settings.models_path)  # no database yet: nothing promoted
        if pinned is None:
            raise NoLiveModelError(settings.models_path)
        return pinned
    return live_model_path(_database(), settings.models_path)


def _story_report(model: Path | None, stories: Path, out: Path) -> bool:
    import asyncio
    import tempfile

    from bot.agent import Agent
    from bot.dialogue.story_test import load_stories, run_stories, write_story_report
    from bot.settings import get_settings

    loaded = load_stories([stories])
    with tempfile.TemporaryDirectory(prefix="bpbot-stories-") as tmp:
        settings = get_settings().model_copy(
            update={"database_url": f"sqlite:///{tmp}/stories.sqlite3"})
        agent = Agent.load(settings, model=model)
        results = asyncio.run(run_stories(agent, loaded))
    target = write_story_report(results, out)
    for r in results:
        mark = "passed" if r.passed else f"FAILED at step {r.failed_step}"
        typer.echo(f"  {mark:>20}  {r.story}")
    passed = sum(r.passed for r in results)
    typer.echo(f"{passed} passed, {len(results) - passed} failed")
    typer.echo(f"Story report written to {target}")
    return passed == len(results)


def _routing_report(model: Path | None, routing: Path, labelled: list[Path], out: Path) -> None:
    from bot.routing_report import evaluate_routing, load_labelled_enquiries, write_routing_report
    from bot.service import Router

    router = Router.load(model or _live_model(), routing)
    rows = [row for file in labelled
            for row in load_labelled_enquiries(file, set(router.table.units))]
    report = evaluate_routing(router, rows)
    target = write_routing_report(report, out)
    for lang, m in sorted(report["languages"].items()):
        typer.echo(f"  {lang:>14}: right {m['right']:.3f}, offered {m['offered']:.3f}, "
                   f"clarifying question {m['ask']:.3f}, partial {m['partial']:.3f}, "
                   f"wrong unit {m['wrong']:.3f} (n={m['support']})")
    typer.echo(f"Routing report written to {target}")


@app.command("validate")
def validate_cli(data: DataOpt = None, routing: RoutingOpt = Path(DEFAULT_ROUTING_PATH),
                 domain: Annotated[Path, typer.Option("--domain")] = Path(DEFAULT_DOMAIN_PATH)
                 ) -> None:
    """Check data, domain and routing table; exit 1 on errors."""
    from bot.validation import validate_project

    report = validate_project(_data(data), routing, domain)
    for w in report.warnings:
        typer.secho(f"warning: {w}", fg=typer.colors.YELLOW, err=True)
    for e in report.errors:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
    if not report.ok:
        typer.echo(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s).")
        raise typer.Exit(1)
    typer.echo(f"OK: data, domain and routing are consistent ({len(report.warnings)} warnings).")


@app.command("route")
def route_cli(model: ModelOpt = None, routing: RoutingOpt = Path(DEFAULT_ROUTING_PATH),
              jsonl: Annotated[bool, typer.Option(
                  "--jsonl", help="One message per stdin line, one JSON object per line.")
              ] = False) -> None:
    """Route messages read from stdin (one per line) to units."""
    from bot.service import Router

    try:
        router = Router.load(model or _live_model(), routing)
    except BotError as exc:
        _fail(exc)
    interactive = not jsonl and sys.stdin.isatty()
    if interactive:
        typer.echo("Type a message (Ctrl-D to quit).")
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            error = {"line": number, "error": f"Line {number} is not valid UTF-8 (byte "
                     f"{exc.start}). Send the messages as UTF-8 text."}
            typer.echo(_dump(error))
            continue
        result = router.route(text)
        if jsonl:
            typer.echo(_dump(result))
        else:
            typer.echo(router.describe(result))
        sys.stdout.flush()


@app.command("parse")
def parse_cli(text: str, model: ModelOpt = None) -> None:
    """Print the full parse result of one message."""
    from bot.nlu.model import load_model

    try:
        nlu = load_model(model or _live_model())
    except BotError as exc:
        _fail(exc)
    typer.echo(json.dumps(nlu.parse(text), indent=2, ensure_ascii=False, default=str))


def _ensure_model(config: Path) -> None:
    from bot.errors import ModelNotFoundError
    from bot.nlu.model import MODEL_FORMAT, newest_model
    from bot.settings import get_settings
    from bot.training import train_project

    models = get_settings().models_path
    try:
        manifest = json.loads((newest_model(models) / "manifest.json").read_text())
        if manifest.get("format") != MODEL_FORMAT:
            raise ModelNotFoundError(models)
    except (ModelNotFoundError, OSError, ValueError):
        typer.echo("No trained model of the current format yet: training one (about a "
                   "minute).")
        try:
            train_project(config, [DEFAULT_DATA_PATH], Path(models), progress=True)
        except BotError as exc:
            _fail(exc)
    # A fresh install has nothing live: the first model goes through the gate (its stories).
    models_promote_cli(first=True, config=config)


def _agent(model: Path | None) -> Any:
    from bot.agent import Agent
    from bot.settings import get_settings
    from bot.store.privacy import install_log_masking

    install_log_masking()
    try:
        return Agent.load(get_settings(), model=model)
    except BotError as exc:
        _fail(exc)


@app.command("shell")
def shell_cli(model: ModelOpt = None,
              nlu: Annotated[bool, typer.Option("--nlu", help="Show the NLU result.")] = False
              ) -> None:
    """Chat with the assistant in the terminal (the whole dialogue, stored like the web)."""
    import asyncio

    from bot.shell import chat

    agent = _agent(model)
    asyncio.run(chat(agent, show_nlu=nlu))


@app.command("run")
def run_cli(config: ConfigOpt = Path(DEFAULT_CONFIG_PATH),
            host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
            port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 5005) -> None:
    """Train and promote a first model if none is live, then serve the demo and the inbox."""
    _ensure_model(config)
    typer.echo(f"Demo page with the chat widget: http://{host}:{port}/")
    typer.echo(f"Staff inbox: http://{host}:{port}/staff (create an account with "
               "`.venv/bin/bpbot staff add NAME --unit UNIT` or `--admin`)")
    typer.echo("Chat in the terminal instead: .venv/bin/bpbot shell")
    serve_cli(host=host, port=port, workers=1)


@app.command("serve")
def serve_cli(host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
              port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 5005,
              workers: Annotated[int, typer.Option("--workers", min=1, max=64)] = 1,
              model: Annotated[Path | None, typer.Option(
                  "--model", help="Serve this model folder (it does not follow promotions); "
                  "default: the live one.")] = None) -> None:
    """Serve the chat API, the widget and the staff inbox (uvicorn)."""
    import os
    import shutil
    import tempfile

    from bot.server.app import preflight
    from bot.settings import get_settings

    if model is not None:  # the workers read it as their setting
        from bot.errors import ModelNotFoundError

        if not (model / "manifest.json").is_file():
            _fail(ModelNotFoundError(model))
        os.environ["BPBOT_MODELS_PATH"] = str(model.resolve())
        get_settings.cache_clear()
    settings = preflight()  # one line and exit 2 for a bad setting or an unwritable database
    if workers > 1 and settings.database_url.startswith("sqlite"):
        typer.secho("Error: several workers need a shared database; set BPBOT_DATABASE_URL to "
                    "PostgreSQL, or use --workers 1.", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if workers > 1 and settings.embed_threads is None:
        # The workers share the cores: one embedding engine a core in all.
        from bot.settings import default_encoders

        os.environ["BPBOT_EMBED_THREADS"] = str(default_encoders(workers))
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The workers share the port: each one's /metrics answers for all (bot/server/metrics).
        metrics_dir = tempfile.mkdtemp(prefix="bpbot-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        _run_uvicorn(settings, host, port, workers)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _run_uvicorn(settings: Any, host: str, port: int, workers: int) -> None:
    import uvicorn

    from bot.logs import logging_config

    uvicorn.run("bot.server.app:app_from_environment", factory=True, host=host, port=port,
                workers=workers, log_config=logging_config(settings.log_level,
                                                           settings.log_format),
                proxy_headers=False, ws_max_size=settings.max_request_bytes,
                # Loading the model takes seconds: uvicorn's 5 s health check of each worker
                # would give up on it and restart it again and again.
                timeout_worker_healthcheck=120)


staff_app = typer.Typer(help="Staff accounts of the inbox.", no_args_is_help=True)
corrections_app = typer.Typer(help="Routing corrections made by staff.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")
app.add_typer(corrections_app, name="corrections")


@staff_app.command("add")
def staff_add_cli(
        username: str,
        unit: Annotated[list[str] | None, typer.Option("--unit", help="A unit id; repeat.")] = None,
        admin: Annotated[bool, typer.Option("--admin", help="Sees every unit.")] = False,
        language: Annotated[str, typer.Option("--language", help="fi, sv or en.")] = "fi",
        role: Annotated[str, typer.Option(
            "--role", help="staff (their units' enquiries), maintainer (also the review "
            "inbox) or coordinator (also the statistics).")] = "staff",
        password_stdin: Annotated[bool, typer.Option(
            "--password-stdin", help="Read the password from standard input.")] = False,
) -> None:
    """Create a staff account (the password is stored as an argon2 hash)."""
    from bot.routing import load_routing
    from bot.settings import get_settings
    from bot.store.staff import StaffError, add_staff

    settings = get_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        units = set(load_routing(settings.routing_path).units)
        member = add_staff(_database(), username, password, unit or [],
                           is_admin=admin, language=language, known_units=units,
                           role=role)
    except (StaffError, BotError) as exc:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    scope = "every unit" if member.is_admin else ", ".join(member.units)
    typer.echo(f"Staff account '{member.username}' created for {scope}.")


def _staff_change(change: Any, username: str, done: str, *args: Any) -> None:
    from bot.store.staff import StaffError

    try:
        change(_database(), username.strip().lower(), *args)
    except StaffError as exc:
        typer.secho(f"Error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"Staff account '{username}' {done}.")


@staff_app.command("unlock")
def staff_unlock_cli(username: str) -> None:
    """Clear a staff account's lockout after too many wrong passwords."""
    from bot.store.staff import unlock

    _staff_change(unlock, username, "unlocked")


@staff_app.command("list")
def staff_list_cli() -> None:
    """Every staff account: units, language, disabled or locked."""
    from bot.store.staff import list_staff

    for member, disabled, locked in list_staff(_database()):
        scope = "every unit (admin)" if member.is_admin else ", ".join(member.units)
        state = "disabled" if disabled else ("locked" if locked else "active")
        typer.echo(f"{member.username:<24} {state:<9} {member.language}  {scope}")


@staff_app.command("disable")
def staff_disable_cli(username: str, enable: Annotated[bool, typer.Option(
        "--enable", help="Enable the account again.")] = False) -> None:
    """Disable an account (its sessions end at once), or enable it again."""
    from bot.store.staff import set_disabled

    _staff_change(set_disabled, username, "enabled" if enable else "disabled", not enable)


@staff_app.command("reset-password")
def staff_reset_password_cli(username: str, password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input.")] = False) -> None:
    """Set a new password; the account's sessions end and a lockout is cleared."""
    from bot.store.staff import reset_password

    password = (sys.stdin.readline().rstrip("\r\n") if password_stdin else
                typer.prompt("New password", hide_input=True, confirmation_prompt=True))
    _staff_change(reset_password, username, "has a new password", password)


@corrections_app.command("export")
def corrections_export_cli(out: Annotated[Path | None, typer.Option(
        "--out", help="File to write; default: standard output.")] = None) -> None:
    """Write staff re-routings as Rasa NLU YAML suggestions (personal data removed)."""
    from bot.routing import load_routing
    from bot.settings import get_settings
    from bot.store.review import corrections_as_nlu

    settings = get_settings()
    table = load_routing(settings.routing_path)
    by_unit: dict[str, list[str]] = {}
    for intent, route in table.routes.items():
        by_unit.setdefault(route.unit, []).append(intent)
    text = corrections_as_nlu(_database(), by_unit)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"Suggestions written to {out}")


db_app = typer.Typer(help="The database schema: see where it is, upgrade it.",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade_cli() -> None:
    """Bring the schema to this version's newest revision.

    In production: once per release, after a backup, before the new version's servers start.
    """
    from bot.settings import get_settings
    from bot.store.db import Database, migrate, newer_schema_error, schema_revisions

    db = Database(get_settings().database_url, create=False)
    before, head = schema_revisions(db.engine)
    if before is not None and (newer := newer_schema_error(db.engine, before, head)):
        db.dispose()
        typer.secho(f"Error: {newer.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2)
    if before == head:
        typer.echo(f"The schema is up to date (revision {head}).")
    else:
        migrate(db.engine)
        typer.echo(f"Upgraded the schema from {before or 'an empty database'} to revision "
                   f"{head}.")
    from bot.registry import adopt_live_digest

    adopted = adopt_live_digest(db, get_settings().models_path)
    if adopted:
        typer.echo(f"Recorded the digest of the live model '{adopted}' (promoted before "
                   "digests were): servers go on serving it.")
    db.dispose()


@db_app.command("status")
def db_status_cli() -> None:
    """The schema's revision and the one this version needs; exit 1 when they differ."""
    from bot.settings import get_settings
    from bot.store.db import Database, schema_revisions

    db = Database(get_settings().database_url, create=False)
    current, head = schema_revisions(db.engine)
    db.dispose()
    typer.echo(f"database: {current or 'empty'}\nthis version needs: {head}")
    if current != head:
        typer.echo("Run `bpbot db upgrade` (after a backup).")
        raise typer.Exit(1)


outbox_app = typer.Typer(help="Deliver queued e-mails and webhooks (retries with backoff); "
                         "show what is not sent.", invoke_without_command=True)
app.add_typer(outbox_app, name="outbox")


@outbox_app.callback()
def outbox_cli(ctx: typer.Context,
               once: Annotated[bool, typer.Option("--once", help="Deliver what is due, then "
                                                  "stop.")] = False,
               interval: Annotated[float, typer.Option("--interval", min=0.1)] = 2.0) -> None:
    """Deliver queued e-mails and webhooks (retries with backoff); show what is not sent."""
    if ctx.invoked_subcommand is not None:
        return
    from bot.store.privacy import install_log_masking

    install_log_masking()
    worker = _outbox_worker()
    if not once:
        typer.echo("Delivering notifications; Ctrl-C stops.")
        try:
            worker.run(interval_s=interval)
        except KeyboardInterrupt:
            pass
    sent = worker.run_once() if once else 0
    waiting = worker.pending()
    typer.echo(f"Sent {sent}; not sent: {len(waiting)}.")
    for m in waiting:
        typer.echo(f"  {m.status:>8} {m.kind:>7} {m.recipient} attempts={m.attempts} "
                   f"{(m.last_error or '')[:80]}")


@outbox_app.command("retry")
def outbox_retry_cli(reference: Annotated[str | None, typer.Option(
        "--reference", help="Only this enquiry's (BP-YYYY-NNNNNN); default: every failed "
        "one.")] = None) -> None:
    """Queue notifications that gave up (status failed) again, each with all its attempts."""
    count = _outbox_worker().retry_failed(reference)
    typer.echo(f"Queued {count} failed notification(s) again; `bpbot outbox` (or the "
               "server) delivers them.")


def _outbox_worker() -> Any:
    from bot.notify.outbox import OutboxWorker
    from bot.settings import get_settings

    settings = get_settings()
    return OutboxWorker(_database(), settings)


import_app = typer.Typer(help="Bring other projects in.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("rasa")
def import_rasa_cli(project: Path, out: Annotated[Path, typer.Option(
        "--data", help="Where the language folders go.")] = Path("data/nlu")) -> None:
    """Sort a Rasa project's examples into language folders; suggest routes; map its pipeline."""
    from collections import Counter

    from bot.importer import import_rasa
    from bot.service import Router

    routers: list[Router | None] = []

    def suggest(texts: list[str]) -> str | None:
        """The unit the live model routes most of the examples to (None without a model)."""
        if not routers:
            try:
                routers.append(Router.load(_live_model(), DEFAULT_ROUTING_PATH))
            except BotError:
                routers.append(None)
        router = routers[0]
        if router is None:
            return None
        unit, _ = Counter(router.route(t)["unit"] for t in texts[:50]).most_common(1)[0]
        return str(unit) if unit else None

    try:
        report = import_rasa(project, out, suggest)
    except BotError as exc:
        _fail(exc)
    for path in report.written:
        typer.echo(f"wrote {path}")
    typer.echo("Examples per intent and detected language:")
    for intent, counts in sorted(report.examples.items()):
        typer.echo(f"  {intent:<32} " + " ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if report.unsure:
        typer.echo(f"Check the language of {len(report.unsure)} example(s) (detection unsure):")
        for intent, text, lang, conf in report.unsure[:50]:
            typer.echo(f"  {lang} ({conf}) {intent}: {text}")
    typer.echo("Suggested routes for routing/routes.yml (check each):")
    for intent, unit in report.units.items():
        typer.echo(f"  - {{intent: {intent}, unit: {unit or '<choose a unit>'}}}")
    for line in report.pipeline:
        typer.echo(f"pipeline: {line}")
    for line in report.refused:
        typer.secho(f"pipeline: {line}", fg=typer.colors.YELLOW)
    typer.echo("Our config.yml already has the pipeline these map to; Swedish needs at least "
               "25 examples per routed intent (`bpbot validate` says where).")


intent_app = typer.Typer(help="Kinds of enquiry (intents).", no_args_is_help=True)
app.add_typer(intent_app, name="intent")


@intent_app.command("add")
def intent_add_cli(name: str, unit: Annotated[str, typer.Option(
        "--unit", help="The unit that receives these enquiries (an id in units.yml).")],
                   routing: RoutingOpt = Path(DEFAULT_ROUTING_PATH)) -> None:
    """Add an intent to the data (TODO examples), routes.yml, domain.yml and the rules."""
    from bot.routing import load_routing
    from bot.scaffold import add_intent

    try:
        changed = add_intent(Path("."), name, unit, load_routing(routing))
    except BotError as exc:
        _fail(exc)
    for line in changed:
        typer.echo(f"  {line}")
    typer.echo(f"Now replace the TODO examples of '{name}' with real customer messages "
               "(`bpbot validate` shows where), then `bpbot train` and "
               "`bpbot models promote`.")


data_app = typer.Typer(help="Training data from the review inbox.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("pull")
def data_pull_cli(out: Annotated[Path, typer.Option(
        "--data", help="The NLU data folder (language folders inside).")] = Path("data/nlu")
                  ) -> None:
    """Write the review inbox's new labels into <data>/<language>/review.yml (each once)."""
    from bot.store.review import pull

    added = pull(_database(), out)
    if not added:
        typer.echo("No new labels.")
        return
    for path, count in added.items():
        typer.echo(f"{path}: {count} new example(s)")
    typer.echo("Review the change (git diff), then `bpbot train` makes a candidate.")


@app.command("purge")
def purge_cli(days: Annotated[int | None, typer.Option(
        "--days", min=1, help="Retention in days; default: BPBOT_RETENTION_DAYS.")] = None
              ) -> None:
    """Delete conversations and enquiries older than the retention period."""
    from bot.settings import get_settings
    from bot.store.privacy import purge

    settings = get_settings()
    removed = purge(_database(), days or settings.retention_days)
    typer.echo(f"Purged {removed.enquiries} enquiries, {removed.conversations} conversations "
               f"({removed.events} events), {removed.notifications} notifications, "
               f"{removed.corrections} routing corrections and {removed.review_labels} "
               "review labels.")


@app.command("erase")
def erase_cli(email: Annotated[str | None, typer.Option("--email")] = None,
              reference: Annotated[str | None, typer.Option("--reference")] = None,
              sender: Annotated[str | None, typer.Option("--sender")] = None) -> None:
    """Remove one person's data (by e-mail, enquiry reference or conversation) everywhere."""
    from bot.store.privacy import erase

    if not (email or reference or sender):
        typer.secho("Error: give --email, --reference or --sender.", fg=typer.colors.RED,
                    err=True)
        raise typer.Exit(2)
    removed = erase(_database(), email=email, reference=reference,
                    sender_id=sender)
    typer.echo(f"Erased {removed.enquiries} enquiries, {removed.conversations} conversations "
               f"({removed.events} events), {removed.notifications} notifications, "
               f"{removed.corrections} routing corrections and {removed.review_labels} "
               "review labels.")


def main() -> None:  # pragma: no cover - console entry
    """Console entry point."""
    app()
