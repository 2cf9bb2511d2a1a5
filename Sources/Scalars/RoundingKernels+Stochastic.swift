/// Loop-invariant constants of the fast stochastic loop of `roundToFormatStochastic`, for formats with
/// `p ≤ 23` whose subnormal spacing `2^qe` has `qe ≥ −103` (fp8 e4m3/e5m2, binary16; not bfloat16 or
/// tf32, whose `qe` is −133 and −136: they keep the general loop).
///
/// The fast loop gives exactly the general loop's results (`_roundFloatBits(_, _, Stochastic.self, random:)`,
/// which equals `F.round(Double(x), mode: .stochastic, random:)`), with fewer vector operations: below
/// 2^emin it works in units of `2^(qe − 24)`, where the draw, the fraction and the floor are one
/// power-of-two scaling of the general loop's quantities (so every step is exact, as there), and it
/// handles overflow, ∞ and NaN only in blocks that contain such an input (`ordinaryLimit`).
@frozen
public struct _StochasticKernelConstants {
    public let mask: UInt32
    public let randomShift: UInt32
    public let minNormalBits: UInt32
    public let maxBits: UInt32
    public let overflowAwayBits: UInt32
    public let infinityBits: UInt32
    /// `2^(24 − qe)`: a binary32 below 2^emin times this is its value in units of `2^(qe − 24)`, exactly.
    public let unitScale: Float
    /// `2^(qe − 24)` (may be subnormal: the products it enters are exact multiples of `2^qe`).
    public let unitQuantum: Float
    /// `maxBits − mask`: no |x| pattern at or below it can round above `maxBits` (the normal path adds
    /// at most `mask`), and ∞ and NaN lie above it.
    public let ordinaryLimit: UInt32

    /// nil when the format is outside the fast loop's range (`drop = 0`, or `qe < −103`).
    @inlinable
    public init?(_ c: _FormatKernelConstants) {
        let qe = c.quantum.exponent
        guard c.drop >= 1, qe >= -103 else { return nil }
        mask = c.mask; randomShift = c.randomShift; minNormalBits = c.minNormalBits; maxBits = c.maxBits
        overflowAwayBits = c.overflowAwayBits; infinityBits = c.infinityBits
        unitScale = Float(sign: .plus, exponent: 24 - qe, significand: 1)
        unitQuantum = Float(sign: .plus, exponent: qe - 24, significand: 1)
        ordinaryLimit = c.maxBits &- c.mask
    }

    /// A field-by-field copy (see `_FormatKernelConstants.init(copying:)`: a local copy keeps the fields
    /// in registers inside the loop).
    @inlinable @inline(__always)
    public init(copying c: _StochasticKernelConstants) {
        mask = c.mask; randomShift = c.randomShift; minNormalBits = c.minNormalBits; maxBits = c.maxBits
        overflowAwayBits = c.overflowAwayBits; infinityBits = c.infinityBits
        unitScale = c.unitScale; unitQuantum = c.unitQuantum; ordinaryLimit = c.ordinaryLimit
    }
}

extension RoundingKernels {
    /// The fast stochastic loop: element `i` uses the bits of index `startIndex + i`; results (binary32
    /// patterns) are written to `out`.
    @inlinable
    public static func _stochasticLoop(_ bits: UnsafePointer<UInt32>, _ out: UnsafeMutablePointer<UInt32>, _ n: Int,
                                       _ c: _StochasticKernelConstants, seed: UInt64, stream: UInt64, startIndex: UInt64) {
        _forEachRandomBlock(count: n, seed: seed, stream: stream, startIndex: startIndex) { lo, hi, random in
            _stochasticBlock(bits + lo, out + lo, hi - lo, _StochasticKernelConstants(copying: c), random)
        }
    }

    /// The fast stochastic loop for outputs other than binary32: calls `sink(lo, count, results)` for
    /// consecutive blocks, `results[j]` the binary32 pattern of element `lo + j` (a stack buffer, valid
    /// during the call).
    @inlinable
    public static func _stochasticBlocks(_ bits: UnsafePointer<UInt32>, _ n: Int, _ c: _StochasticKernelConstants,
                                         seed: UInt64, stream: UInt64, startIndex: UInt64,
                                         _ sink: (Int, Int, UnsafePointer<UInt32>) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: _randomBlockSize) { buffer in
            guard let results = buffer.baseAddress else { return }
            _forEachRandomBlock(count: n, seed: seed, stream: stream, startIndex: startIndex) { lo, hi, random in
                _stochasticBlock(bits + lo, results, hi - lo, _StochasticKernelConstants(copying: c), random)
                sink(lo, hi - lo, UnsafePointer(results))
            }
        }
    }

    /// One block of the fast loop: `r[j]` = element function of `x[j]` with random bits `w[j]`, for
    /// `j < count`. The block is scanned for inputs above `ordinaryLimit` (an OR reduction), then rounded by
    /// the ordinary or the checked loop, both branch-free.
    @inlinable @inline(__always)
    public static func _stochasticBlock(_ x: UnsafePointer<UInt32>, _ r: UnsafeMutablePointer<UInt32>, _ count: Int,
                                        _ k: _StochasticKernelConstants, _ w: UnsafePointer<UInt32>) {
        // the sign bit of `limit − |x|` is set iff |x| > limit (both below 2^31): an OR reduction
        // without compares, which vectorises (a compare-and-flag loop is compiled to a scalar scan)
        var special: UInt32 = 0
        for j in 0..<count { special |= k.ordinaryLimit &- (x[j] & 0x7FFF_FFFF) }
        if special & 0x8000_0000 == 0 {
            for j in 0..<count { r[j] = _stochasticElement(x[j], k, random: w[j], checked: false) }
        } else {
            for j in 0..<count { r[j] = _stochasticElement(x[j], k, random: w[j], checked: true) }
        }
    }

    /// One element of the fast loop; `checked: false` is valid only for |x| patterns ≤ `ordinaryLimit`.
    ///
    /// Below 2^emin, with `y = |x|·2^(24−qe)` (the general loop's `scaled`, times 2^24):
    /// `N = ((y − 2^23) + 1.5·2^47) − 1.5·2^47` is `⌊scaled⌋·2^24` (round-to-nearest of `scaled − ½` by the
    /// 1.5·2^23 trick; where `scaled` is an integer k and the tie goes down to k − 1, the fraction is 1 and
    /// the draw, < 2^24, always rounds up, giving k again), `y − N` is the fraction times 2^24, exactly, and
    /// the element rounds up iff the 24-bit draw is below it.
    @inlinable @inline(__always)
    public static func _stochasticElement(_ b: UInt32, _ c: _StochasticKernelConstants, random w: UInt32,
                                          checked: Bool) -> UInt32 {
        let sign = b & 0x8000_0000
        let a = b & 0x7FFF_FFFF
        // at or above 2^emin: add the complement of the top `drop` random bits, truncate
        let rn = (a &+ (c.mask &- ((w &>> c.randomShift) & c.mask))) & ~c.mask
        // below 2^emin: the fixed grid (results for larger |x|, possibly ∞ or NaN, are discarded)
        let y = Float(bitPattern: a) * c.unitScale
        let floor24 = ((y - 0x1p23) + 0x1.8p47) - 0x1.8p47
        let draw = Float(Int32(bitPattern: w &>> 8))                        // exact: < 2^24
        let up: UInt32 = draw < y - floor24 ? 0x4B80_0000 : 0                // 2^24 or +0
        let rs = ((floor24 + Float(bitPattern: up)) * c.unitQuantum).bitPattern
        var r = Int32(bitPattern: a) < Int32(bitPattern: c.minNormalBits) ? rs : rn
        if checked {
            // signed compares: for non-NaN inputs both sides are below 2^31; NaN is replaced last
            r = Int32(bitPattern: r) > Int32(bitPattern: c.maxBits) ? c.overflowAwayBits : r
            r = a == 0x7F80_0000 ? c.infinityBits : r
            r = Int32(bitPattern: a) > 0x7F80_0000 ? (a | 0x0040_0000) : r
        }
        return r | sign
    }
}
