"""The routing table: which unit and contact handles a parsed enquiry, and the facts it holds."""

from bot.routing.facts import Fact
from bot.routing.schema import FACT_KINDS
from bot.routing.table import RouteDecision, RoutingTable, load_routing

__all__ = ["FACT_KINDS", "Fact", "RouteDecision", "RoutingTable", "load_routing"]
