import Testing
import Networks
