"""How work runs: durable jobs (the row is the truth), their execution, heartbeat, recovery and runners."""
