import RealModule

/// Elementary functions computed in binary64 and rounded once into the format (faithful; the binary64
/// error is far below the format's ulp for p ≤ 25).
extension SimulatedFloat: Real {
    @inlinable static func _r(_ x: Double) -> SimulatedFloat { SimulatedFloat(x) }
    @inlinable public static func cos(_ x: SimulatedFloat) -> SimulatedFloat { _r(.cos(x._value)) }
    @inlinable public static func sin(_ x: SimulatedFloat) -> SimulatedFloat { _r(.sin(x._value)) }
    @inlinable public static func tan(_ x: SimulatedFloat) -> SimulatedFloat { _r(.tan(x._value)) }
    @inlinable public static func acos(_ x: SimulatedFloat) -> SimulatedFloat { _r(.acos(x._value)) }
    @inlinable public static func asin(_ x: SimulatedFloat) -> SimulatedFloat { _r(.asin(x._value)) }
    @inlinable public static func atan(_ x: SimulatedFloat) -> SimulatedFloat { _r(.atan(x._value)) }
    @inlinable public static func cosh(_ x: SimulatedFloat) -> SimulatedFloat { _r(.cosh(x._value)) }
    @inlinable public static func sinh(_ x: SimulatedFloat) -> SimulatedFloat { _r(.sinh(x._value)) }
    @inlinable public static func tanh(_ x: SimulatedFloat) -> SimulatedFloat { _r(.tanh(x._value)) }
    @inlinable public static func acosh(_ x: SimulatedFloat) -> SimulatedFloat { _r(.acosh(x._value)) }
    @inlinable public static func asinh(_ x: SimulatedFloat) -> SimulatedFloat { _r(.asinh(x._value)) }
    @inlinable public static func atanh(_ x: SimulatedFloat) -> SimulatedFloat { _r(.atanh(x._value)) }
    @inlinable public static func exp(_ x: SimulatedFloat) -> SimulatedFloat { _r(.exp(x._value)) }
    @inlinable public static func expMinusOne(_ x: SimulatedFloat) -> SimulatedFloat { _r(.expMinusOne(x._value)) }
    @inlinable public static func log(_ x: SimulatedFloat) -> SimulatedFloat { _r(.log(x._value)) }
    @inlinable public static func log(onePlus x: SimulatedFloat) -> SimulatedFloat { _r(.log(onePlus: x._value)) }
    @inlinable public static func erf(_ x: SimulatedFloat) -> SimulatedFloat { _r(.erf(x._value)) }
    @inlinable public static func erfc(_ x: SimulatedFloat) -> SimulatedFloat { _r(.erfc(x._value)) }
    @inlinable public static func exp2(_ x: SimulatedFloat) -> SimulatedFloat { _r(.exp2(x._value)) }
    @inlinable public static func exp10(_ x: SimulatedFloat) -> SimulatedFloat { _r(.exp10(x._value)) }
    @inlinable public static func gamma(_ x: SimulatedFloat) -> SimulatedFloat { _r(.gamma(x._value)) }
    @inlinable public static func log2(_ x: SimulatedFloat) -> SimulatedFloat { _r(.log2(x._value)) }
    @inlinable public static func log10(_ x: SimulatedFloat) -> SimulatedFloat { _r(.log10(x._value)) }
    @inlinable public static func logGamma(_ x: SimulatedFloat) -> SimulatedFloat { _r(.logGamma(x._value)) }
    @inlinable public static func pow(_ x: SimulatedFloat, _ y: SimulatedFloat) -> SimulatedFloat {
        _r(.pow(x._value, y._value))
    }
    @inlinable public static func pow(_ x: SimulatedFloat, _ n: Int) -> SimulatedFloat { _r(.pow(x._value, n)) }
    @inlinable public static func root(_ x: SimulatedFloat, _ n: Int) -> SimulatedFloat { _r(.root(x._value, n)) }
    @inlinable public static func atan2(y: SimulatedFloat, x: SimulatedFloat) -> SimulatedFloat {
        _r(.atan2(y: y._value, x: x._value))
    }
    @inlinable public static func hypot(_ x: SimulatedFloat, _ y: SimulatedFloat) -> SimulatedFloat {
        _r(.hypot(x._value, y._value))
    }
}
