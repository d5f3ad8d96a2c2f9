"""nmp-local: a local stand-in for the NeMo platform APIs prefstream uses."""
