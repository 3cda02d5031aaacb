"""PC/SC: emulated cards in vsmartcard's virtual readers (daemon, vicc), and the settlement
program on the host over any PC/SC readers (channel)."""
