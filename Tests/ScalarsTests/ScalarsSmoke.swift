import Testing
import Scalars

@Suite struct FusedMultiplyAddRoundsOnce {
    /// x·y = 2049/2048 = 1 + 2^-11 exactly (a binary16 midpoint); adding the least subnormal 2^-24 puts
    /// the exact result just above it, so one rounding gives 1 + 2^-10. Computing in Float first lands
    /// on a Float tie (ulp 2^-23), rounds to 1 + 2^-11, and the second rounding ties to even: 1.
    @Test func float16FMAIsNotDoubleRounded() {
        let x = Float16(683.0 / 512), y = Float16(0.75), c = Float16(0x1p-24)
        #expect(Double(x) * Double(y) == 1 + 0x1p-11)
        #expect(Float16(Float(x) * Float(y) + Float(c)) == 1)      // the double-rounding trap
        #expect(Float16.fusedMultiplyAdd(x, y, c) == Float16(1 + 0x1p-10))
    }
}
