package rmqmesh

// Version is the version of the rmqmesh library, in semantic versioning
// without the leading "v". The xDS client sends it as the node's
// user_agent_version, so a control plane can tell which rmqmesh a client
// runs.
const Version = "0.1.0-dev"
