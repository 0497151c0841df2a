"""bridge: Wix Restaurants online orders in, restaurant POS orders out, statuses back to Wix."""

__version__ = "0.1.0"
