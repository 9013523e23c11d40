"""The Campaigns API client: auth, pagination, retrying, wire format (docs/design.md).

Use :class:`CampaignsClient`; one instance is shared by every worker thread.
"""

from .client import AddResult, CampaignsClient, resolve_campaign
from .retry import Counters
from .wire import to_epoch_seconds

__all__ = ["AddResult", "CampaignsClient", "Counters", "resolve_campaign", "to_epoch_seconds"]
