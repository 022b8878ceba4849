"""The journeyforge application: `journeyforge <stage> [hydra overrides]`. Wiring only."""
