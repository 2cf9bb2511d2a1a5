// Placeholder: the Networks module is being built; see the issue tracker.
