"""POS clients (adapters) and the port they implement; see `base`."""
