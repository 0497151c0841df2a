"""The owner's dashboard (`/dashboard`): pages an owner opens from Wix, and the operator logs
into. `blueprint` is what the pages share; one module a page (`entry`, `overview`, `account`,
`locations`, `menus`, `orders`, `square` for Connect with Square) adds its routes to it; `access`
says who may see what; `glossary` has the owner's words; `views` shows stored things."""
from bridge.web.dashboard import (account, entry, locations, menus, orders, overview,  # routes
                                  square)
from bridge.web.dashboard.blueprint import blueprint

__all__ = ["blueprint", "account", "entry", "locations", "menus", "orders", "overview", "square"]
