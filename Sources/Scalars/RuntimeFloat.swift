import CRuntimeFormat

/// A number whose format is chosen at run time: `SimulatedFloat` over a format type that reads its
/// parameters from the calling thread's `RuntimeFormats` table, slot `Slot.index`.
///
/// ## Why a slot type and a thread-local table
/// Generic code asks its scalar type for constants (`T(0.5)`, `T.ulpOfOne`) and converts between types
/// (`Factors(weight.doubleValue)`), so the format cannot live in the values: the type itself has to know
/// it. A slot type stands for "whatever format slot k holds on this thread", so one compiled
/// specialisation serves every format: a study declares formats in its file, and nothing is recompiled.
/// The table is thread-local (set by `RuntimeFormats.withFormats`), so two study cells with different
/// formats run side by side on two threads, and each cell's results do not depend on the other.
///
/// ## Guarantees
/// Every operation is `SimulatedFloat`'s own code with the slot's parameters in place of compile-time
/// constants: `+ − × ÷ √ fma` and conversions correctly rounded in the slot's mode, stochastic rounding
/// drawing from `StochasticRounding.current`. For the same parameters and mode, results are bit-identical
/// to `SimulatedFloat<F>` (tested exhaustively on all 16-bit inputs of every catalogue format).
///
/// Using a `RuntimeFloat` outside `RuntimeFormats.withFormats` (or with a slot the table does not have) is
/// a programming error and stops the program with a message saying so.
public typealias RuntimeFloat<Slot: RuntimeFormatSlot> = SimulatedFloat<RuntimeSlotFormat<Slot>>

/// A position in the thread's table of run-time formats.
public protocol RuntimeFormatSlot: Sendable {
    /// 0 ..< `RuntimeFormats.slotCount`.
    static var index: Int { get }
}

/// Slot 0 (a precision policy's weights, by StudyKit's convention).
public enum RuntimeSlot0: RuntimeFormatSlot { @inlinable public static var index: Int { 0 } }
/// Slot 1 (factors).
public enum RuntimeSlot1: RuntimeFormatSlot { @inlinable public static var index: Int { 1 } }
/// Slot 2 (inverses and roots).
public enum RuntimeSlot2: RuntimeFormatSlot { @inlinable public static var index: Int { 2 } }
/// Slot 3 (moments).
public enum RuntimeSlot3: RuntimeFormatSlot { @inlinable public static var index: Int { 3 } }

/// The format of slot `Slot` on the calling thread, as a `FloatFormat` whose parameters are read at
/// run time (one thread-local load and a few field loads per rounding).
public enum RuntimeSlotFormat<Slot: RuntimeFormatSlot>: FloatFormat {
    @inlinable @inline(__always)
    static var _entry: UnsafePointer<_FormatParameters> { RuntimeFormats._entry(Slot.index) }

    /// Every parameter in one load of the thread's table (a rounding reads them all).
    @inlinable public static var _parameters: _FormatParameters { _entry.pointee }

    public static var name: String { RuntimeFormats.format(slot: Slot.index).name }
    @inlinable public static var precision: Int { _entry.pointee.precision }
    @inlinable public static var maximumExponent: Int { _entry.pointee.maximumExponent }
    @inlinable public static var minimumNormalExponent: Int { _entry.pointee.minimumNormalExponent }
    @inlinable public static var hasSubnormals: Bool { _entry.pointee.hasSubnormals }
    @inlinable public static var hasInfinities: Bool { _entry.pointee.hasInfinities }
    @inlinable public static var overflow: OverflowBehaviour { _entry.pointee.overflow }
    @inlinable public static var rounding: RoundingMode { _entry.pointee.rounding }
    @inlinable public static var greatestFiniteMagnitude: Double { _entry.pointee.greatestFiniteMagnitude }
}

/// The thread's table of run-time formats: which format each `RuntimeSlot…` computes in.
public enum RuntimeFormats {
    /// The number of slots (`RuntimeSlot0` … `RuntimeSlot3`).
    public static let slotCount = 4

    /// Runs `body` on the calling thread with slot `i` in `formats[i]`, then restores the previous table
    /// (calls nest). Formats are validated first. Fewer formats than slots: the remaining slots take the
    /// last one (`withFormats([bf16])` puts every slot in bf16).
    /// - Throws: `FormatError` for an invalid format or more formats than slots; whatever `body` throws.
    public static func withFormats<R>(_ formats: [RuntimeFormat], _ body: () throws -> R) throws -> R {
        guard !formats.isEmpty, formats.count <= slotCount else {
            throw FormatError.invalidParameter(format: formats.map(\.name).joined(separator: ", "),
                                               parameter: "slots", value: "\(formats.count)",
                                               reason: "must be 1...\(slotCount)")
        }
        for f in formats { try f.validate() }
        let table = _RuntimeFormatTable(formats)
        let previousEntries = mantissa_runtime_format_entries_get()
        let previousOwner = mantissa_runtime_format_owner_get()
        mantissa_runtime_format_entries_set(UnsafeRawPointer(table.entries))
        mantissa_runtime_format_owner_set(UnsafeRawPointer(Unmanaged.passUnretained(table).toOpaque()))
        defer {
            mantissa_runtime_format_entries_set(previousEntries)
            mantissa_runtime_format_owner_set(previousOwner)
        }
        return try withExtendedLifetime(table) { try body() }
    }

    /// The formats of the calling thread's table, or nil outside `withFormats`.
    public static var current: [RuntimeFormat]? {
        guard let owner = mantissa_runtime_format_owner_get() else { return nil }
        return Unmanaged<_RuntimeFormatTable>.fromOpaque(owner).takeUnretainedValue().formats
    }

    /// The format of slot `slot` on the calling thread.
    public static func format(slot: Int) -> RuntimeFormat {
        guard let formats = current, (0..<slotCount).contains(slot) else { _missing(slot) }
        return formats[min(slot, formats.count - 1)]
    }

    @inlinable @inline(__always)
    static func _entry(_ slot: Int) -> UnsafePointer<_FormatParameters> {
        guard let raw = mantissa_runtime_format_entries_get() else { _missing(slot) }
        return raw.assumingMemoryBound(to: _FormatParameters.self) + slot
    }

    @usableFromInline @inline(never)
    static func _missing(_ slot: Int) -> Never {
        fatalError("RuntimeFloat of slot \(slot) used outside RuntimeFormats.withFormats (or the table has no slot \(slot))")
    }
}

/// Owns one table: the entries the hot path reads and the formats (with their names) for everything else.
/// Slots beyond `formats.count` repeat the last format.
final class _RuntimeFormatTable {
    let formats: [RuntimeFormat]
    let entries: UnsafeMutablePointer<_FormatParameters>

    init(_ formats: [RuntimeFormat]) {
        self.formats = formats
        entries = .allocate(capacity: RuntimeFormats.slotCount)
        for i in 0..<RuntimeFormats.slotCount {
            (entries + i).initialize(to: formats[min(i, formats.count - 1)].parameters)
        }
    }

    deinit { entries.deallocate() }
}
