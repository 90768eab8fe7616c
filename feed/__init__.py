"""The live feed: protocol models, the WebSocket server and the HTTP endpoints beside it."""
