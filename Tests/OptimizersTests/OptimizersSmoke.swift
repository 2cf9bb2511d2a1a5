import Testing
import Optimizers
