"""Quality of swapped faces: landmark fidelity, de-identification, expression preservation and the leak scan."""
