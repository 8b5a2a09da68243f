"""The routing table: which unit and contact handles a parsed enquiry."""

from bot.routing.table import RouteDecision, RoutingTable, load_routing

__all__ = ["RouteDecision", "RoutingTable", "load_routing"]
