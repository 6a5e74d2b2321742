// Package pluginhost is the application module that owns installed plugins:
// it runs the plugin host of package plugins (wazero sandbox, limits,
// instance pools) inside a yiwang node and connects it to the rest of the
// server.
//
// # Why it is built this way
//
//   - Install state is replicated. plugin.install carries the package bytes
//     and the admin's approval (permissions, approved HTTP hosts, settings,
//     unsigned override) and stores them in plugins_plugin; plugin.enable,
//     plugin.disable and plugin.remove change that row. Every node
//     reconciles its host with the table after each of these commands (a
//     store subscription) and at start-up, so every node of a cluster runs
//     the same plugins, and a node that joins or restarts loads them from
//     its own database. The package is validated (signature, ABI,
//     permissions, compilation) by the node that receives the request
//     before the command is issued; the handler itself only parses the
//     manifest (deterministic), so a bad package never reaches the log.
//     plugin.install is registered with store.NoLogPayload: the package
//     lives in plugins_plugin, the command log keeps its hash.
//   - A plugin's key-value store is plugins_kv, written by plugin.kv_set and
//     plugin.kv_delete (forwarded to the leader from a follower; Apply waits
//     until the write is applied locally, so a plugin reads its own writes)
//     and read from the local read pool. Rows are keyed by plugin name:
//     an upgrade keeps them, remove keeps them unless purge is asked.
//   - Decoders: the module installs an iot.PayloadDecoder on the iot module
//     before the broker exists. For a device whose type has a decoder
//     plugin, the raw payload goes to the plugin and the telemetry JSON it
//     returns goes through the broker's JSON decoder, so bad output is a
//     malformed payload (counted per device) and never reaches the store.
//   - Events: case.created / case.state_changed (store subscription, decoded
//     with cases.DecodeEvent), project.status_changed (stage or status of a
//     project differs from what the module last saw), alarm.raised /
//     alarm.cleared (iot event hook). They are queued and delivered in
//     order by one goroutine; the host dispatches them on the leader only,
//     so a hook's side effects happen once per cluster. Cron jobs also run
//     on the leader only.
//   - Host functions act through the other modules' command path with actor
//     "plugin:NAME": opening a case is case.create, annotating a case is a
//     case.transition note; publishing goes through the embedded broker's
//     inline client; every outbound HTTP call (allowed or refused) is a
//     plugin.http_call command, so it is in the hash-chained audit log.
//   - Failures: the host stops a trapping, looping or memory-hungry call,
//     counts it and disables the plugin after repeated failures; the module
//     then replicates that with plugin.disable (auto), so the plugin stays
//     disabled on every node and after restarts until an admin enables it.
//     Metrics and logs are per node (GET /api/v1/plugins shows this node's).
package pluginhost
