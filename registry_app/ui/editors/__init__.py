"""Desktop editors for the catalogue and the site (issue 19 items 1 and 7): products and their regulatory
status per jurisdiction, manufacturers and suppliers, the site's settings.

Other code opens them with these functions (each returns the dialog, already open and non-modal):

- `open_product_editor(parent, ctx, product_id=None)`: a new product, or an amendment of `product_id`.
- `open_regulatory_status(parent, ctx, product_id, jurisdiction=None)`: the product's status table with the
  form on `jurisdiction` (e.g. the UNDOC-REGULATORY flag's "Fix…"); None means the site's jurisdiction.
- `open_party_editor(parent, ctx, kind, party_id=None)`: a manufacturer or supplier ("manufacturer" /
  "supplier"), new or amended.
- `open_site_settings(parent, ctx)`: the site's name, jurisdiction and time zone (admin).
- `open_users(parent, ctx)`: the users, with signed changes to their accounts (admin).

Imported lazily by the main window and the products page: the editors are not needed to show the window.
"""

from __future__ import annotations

from .parties import open_party_editor
from .product_editor import open_product_editor
from .regulatory_editor import open_regulatory_status
from .site_settings import open_site_settings
from .users import open_users

__all__ = ["open_party_editor", "open_product_editor", "open_regulatory_status", "open_site_settings", "open_users"]
