"""The owner's dashboard (`/dashboard`): pages an owner opens from Wix, and the operator logs
into. `access` says who may see what; `pages` are the pages; `square` connects a site's Square
account (its routes are on the pages' blueprint); `glossary` the owner's words; `views` how
stored things are shown."""
from bridge.web.dashboard import pages, square

__all__ = ["pages", "square"]
