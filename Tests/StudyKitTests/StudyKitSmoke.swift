import Testing
import StudyKit
