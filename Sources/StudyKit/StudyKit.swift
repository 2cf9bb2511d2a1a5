// Placeholder: the StudyKit module is being built; see the issue tracker.
