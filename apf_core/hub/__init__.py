"""Remote hubs: ``apf hub`` runs printer drivers on a farm's LAN and talks to the
server through an MQTT broker (see docs/hubs.md for the wire protocol)."""
