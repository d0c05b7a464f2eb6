//! Server: the composition root. Reads configuration, opens the store,
//! wires pipelines and the HTTP server, supervises them and shuts down.
