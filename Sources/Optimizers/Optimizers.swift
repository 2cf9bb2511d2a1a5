// Placeholder: the Optimizers module is being built; see the issue tracker.
