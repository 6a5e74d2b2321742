package iot

// BrokerStatus is this node's broker state and counters, for the operations
// module's metrics (the same figures as GET /api/v1/iot/stats).
func (m *Module) BrokerStatus() BrokerStats {
	out := BrokerStats{}
	if m.brokerErr != nil {
		out.Error = m.brokerErr.Error()
	} else if m.broker != nil {
		out.Running = true
		out.Address = m.broker.TCPAddr()
		out.Stats = m.broker.Stats()
	}
	return out
}
