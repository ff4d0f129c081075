// Relay console
