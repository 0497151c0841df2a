"""The owner's dashboard (`/dashboard`): pages an owner opens from Wix, and the operator logs
into. `access` says who may see what; `pages` are the pages; `glossary` the owner's words."""
