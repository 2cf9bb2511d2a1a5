import Testing
@testable import StudyKit
