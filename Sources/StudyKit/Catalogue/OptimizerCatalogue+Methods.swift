import Optimizers

/// Every optimizer a study may name, its hyperparameter keys, and how to build it for a policy.
///
/// To register a new optimizer: add its parameter list (a generic function over the policy, so one
/// list serves validation and construction), a descriptor line in `descriptors`, and a case in `make`.
public enum OptimizerCatalogue {
    typealias Probe = Uniform<Double>

    static func sgdParameters<P: PrecisionPolicy>(_: P.Type) -> [Hyperparameter<SGD<P>.Hyperparameters>] {
        [.number("learning_rate", \.learningRate, 0...1e6), .number("momentum", \.momentum, 0...1),
         .number("dampening", \.dampening, 0...1), .number("weight_decay", \.weightDecay, 0...1e3)]
    }
    static func adamParameters<P: PrecisionPolicy>(_: P.Type) -> [Hyperparameter<Adam<P>.Hyperparameters>] {
        [.number("learning_rate", \.learningRate, 0...1e6), .number("beta1", \.beta1, 0...1), .number("beta2", \.beta2, 0...1),
         .number("epsilon", \.epsilon, 0...1), .number("weight_decay", \.weightDecay, 0...1e3),
         .choice("first_moment", \.firstMoment, Adam<P>.FirstMomentForm.self),
         .choice("bias_correction", \.biasCorrection, Adam<P>.BiasCorrection.self)]
    }
    static func kfacParameters<P: PrecisionPolicy>(_: P.Type) -> [Hyperparameter<KFAC<P>.Hyperparameters>] {
        [.choice("variant", \.variant, KFAC<P>.Variant.self),
         .number("learning_rate", \.learningRate, 0...1e6), .number("damping", \.damping, 0...1e6),
         .number("ema_max", \.emaMax, 0...1), .integer("statistics_interval", \.statisticsInterval, 1...100_000),
         .integer("inverse_interval", \.inverseInterval, 1...100_000), .number("momentum", \.momentum, 0...1),
         .number("weight_decay", \.weightDecay, 0...1e3), .optionalNumber("kl_clip", \.klClip, 0...1e6),
         .flag("unmodified_damping", \.unmodifiedDamping), .choice("fallback", \.fallback, FallbackPolicy.self),
         .flag("expensive_monitors", \.expensiveMonitors)] + kfacLMParameters(P.self)
    }
    /// KFAC-LM (§4.4 steps 4'–6'): `finish = "lm"` and the paper's constants (§4.3).
    static func kfacLMParameters<P: PrecisionPolicy>(_: P.Type) -> [Hyperparameter<KFAC<P>.Hyperparameters>] {
        [.choice("finish", \.finish, KFAC<P>.Finish.self),
         .number("lm_damping", \.lm.initialDamping, 1e-30...1e30), .integer("lm_damping_interval", \.lm.dampingInterval, 1...100_000),
         .number("lm_decay", \.lm.decay, 1e-6...0.999999), .number("lm_damping_min", \.lm.minimumDamping, 0...1e30),
         .integer("lm_gamma_interval", \.lm.gammaInterval, 1...100_000), .optionalNumber("lm_gamma", \.lm.initialGamma, 0...1e30)]
    }
    /// Keys that only the practical finish reads, and those that only KFAC-LM reads.
    static let kfacPracticalOnlyKeys = ["learning_rate", "momentum", "kl_clip", "unmodified_damping"]
    static let kfacLMOnlyKeys = ["lm_damping", "lm_damping_interval", "lm_decay", "lm_damping_min", "lm_gamma_interval", "lm_gamma"]
    static func singdParameters<P: PrecisionPolicy>(_: P.Type) -> [Hyperparameter<SINGD<P>.Hyperparameters>] {
        let structures = ["dense", "diagonal", "block30diagonal", "block4diagonal", "block8diagonal", "block16diagonal", "hierarchical15_15", "hierarchical4_4",
                          "triltoeplitz", "triutoeplitz", "trilbottomrightdiagonal", "triltopleftdiagonal", "triubottomrightdiagonal", "triutopleftdiagonal"]
        return [.number("learning_rate", \.learningRate, 0...1e6), .number("momentum", \.momentum, 0...1),
         .number("damping", \.damping, 0...1e6), .number("alpha1", \.alpha1, 0...1), .number("weight_decay", \.weightDecay, 0...1e3),
         .integer("interval", \.interval, 1...100_000), .number("lr_cov", \.factorLearningRate, 0...1e3),
         .custom("structure", .choice(structures)) { h, v in
             if case .text(let s) = v, let st = FactorStructure(name: s) { h.structureK = st; h.structureC = st } },
         .custom("structure_k", .choice(structures)) { h, v in if case .text(let s) = v, let st = FactorStructure(name: s) { h.structureK = st } },
         .custom("structure_c", .choice(structures)) { h, v in if case .text(let s) = v, let st = FactorStructure(name: s) { h.structureC = st } },
         .flag("normalize_lr_cov", \.normalizeFactorLearningRate), .flag("expensive_monitors", \.expensiveMonitors)]
    }

    /// MKOR (§8): the factor options plus the inner optimizer's learning rate, momentum and decay.
    static func mkorParameters<P: PrecisionPolicy>(_: P.Type) -> [Hyperparameter<MKOR<P>.Hyperparameters>] {
        @Sendable func inner(_ h: inout MKOR<P>.Hyperparameters, _ edit: (inout SGD<P>.Hyperparameters) -> Void, _ editAdam: (inout Adam<P>.Hyperparameters) -> Void) {
            switch h.inner {
            case .sgd(var s): edit(&s); h.inner = .sgd(s)
            case .adam(var a): editAdam(&a); h.inner = .adam(a)
            }
        }
        return [.choice("variant", \.variant, MKORVariant.self), .integer("inverse_interval", \.inverseInterval, 1...100_000),
         .integer("warmup_steps", \.warmupSteps, 0...100_000), .optionalNumber("clipping_value", \.clippingValue, 0...1e12),
         .number("stat_decay", \.statDecay, 0...1), .choice("reset_mode", \.resetMode, MKORResetMode.self),
         .number("reset_threshold", \.resetThreshold, 0...1e12),
         .custom("inner", .choice(["sgd", "adam"])) { h, v in
             if case .text("adam") = v, case .sgd(let s) = h.inner {
                 var a = Adam<P>.Hyperparameters(); a.learningRate = s.learningRate; a.weightDecay = s.weightDecay; h.inner = .adam(a)
             } },
         .custom("learning_rate", .number(0...1e6)) { h, v in if case .number(let x) = v { inner(&h, { $0.learningRate = x }, { $0.learningRate = x }) } },
         .custom("momentum", .number(0...1)) { h, v in if case .number(let x) = v { inner(&h, { $0.momentum = x }, { $0.beta1 = x }) } },
         .custom("weight_decay", .number(0...1e3)) { h, v in if case .number(let x) = v { inner(&h, { $0.weightDecay = x }, { $0.weightDecay = x }) } },
         .custom("hybrid", .flag) { h, v in if case .flag(let b) = v { h.hybrid = b ? MKORHybridRule() : nil } },
         .flag("expensive_monitors", \.expensiveMonitors)]
    }

    /// The memory rules a study may name for RLLC (§9.4), with μ the eigenvalue (or radius) and φ the angle.
    static let rllcRules = ["heavy-ball", "nesterov", "jordan2", "jordan3", "complex-pair", "jordan2+complex-pair"]

    struct RLLCSettings { var rule = "nesterov"; var mu = 0.9; var angle = 0.3; var h: RLLC<Uniform<Double>>.Hyperparameters = .init() }

    static func rllcParameters<P: PrecisionPolicy>(_: P.Type) -> [Hyperparameter<RLLC<P>.Hyperparameters>] {
        [.number("learning_rate", \.learningRate, 0...1e6), .number("law_rate", \.lawRate, 0...1e6), .number("ridge", \.ridge, 0...1),
         .optionalNumber("correction_cap", \.correctionCap, 0...1e12), .flag("expensive_monitors", \.expensiveMonitors)]
    }

    /// Builds the RLLC rule and its initial law from `rule`, `mu` and `angle`: the law generalises the
    /// fixed method (heavy ball `(1)`, Nesterov `(μ, 1)`); for chains and pairs it starts on the first unit.
    static func rllcRule(_ v: [String: HyperparameterValue]) throws(OptimizerConfigurationError) -> (MemoryRule, [Double]) {
        var name = "nesterov", mu = 0.9, angle = 0.3
        if case .text(let s)? = v["rule"] { name = s }
        if case .number(let x)? = v["mu"] { mu = x }
        if case .number(let x)? = v["angle"] { angle = x }
        switch name {
        case "heavy-ball": return (try .heavyBall(mu), [1])
        case "jordan2": return (try .blocks([.jordan(eigenvalue: mu, size: 2)]), [1, 0])
        case "jordan3": return (try .blocks([.jordan(eigenvalue: mu, size: 3)]), [1, 0, 0])
        case "complex-pair": return (try .blocks([.complexPair(radius: mu, angle: angle)]), [1, 0])
        case "jordan2+complex-pair": return (try .blocks([.jordan(eigenvalue: mu, size: 2), .complexPair(radius: mu, angle: angle)]), [1, 0, 0, 0])
        default: return (try .nesterov(mu), [mu, 1])
        }
    }

    static var rllcDescriptors: [ParameterDescriptor] {
        rllcParameters(Probe.self).map(\.descriptor) + [
            ParameterDescriptor(key: "rule", kind: .choice(rllcRules)), ParameterDescriptor(key: "mu", kind: .number(0...0.999999)),
            ParameterDescriptor(key: "angle", kind: .number(0...3.15))]
    }

    static func shampooParameters<P: PrecisionPolicy>(_: P.Type) -> [Hyperparameter<Shampoo<P>.Hyperparameters>] {
        [.choice("variant", \.variant, Shampoo<P>.Variant.self), .number("learning_rate", \.learningRate, 0...1e6),
         .number("momentum", \.momentum, 0...1), .number("beta2", \.beta2, 0...1), .number("diagonal_eps", \.diagonalEpsilon, 0...1),
         .number("matrix_eps", \.matrixEpsilon, 0...1), .number("weight_decay", \.weightDecay, 0...1e3),
         .integer("start_preconditioning_step", \.startPreconditioningStep, 1...100_000),
         .integer("preconditioning_compute_steps", \.preconditioningComputeSteps, 1...100_000),
         .integer("statistics_compute_steps", \.statisticsComputeSteps, 1...100_000),
         .choice("graft_type", \.graftType, Shampoo<P>.GraftType.self), .flag("nesterov", \.nesterov),
         .choice("nesterov_form", \.nesterovForm, Shampoo<P>.NesterovForm.self), .choice("root_method", \.rootMethod, Shampoo<P>.RootMethod.self),
         .integer("newton_max_iterations", \.newtonMaxIterations, 1...10_000), .number("newton_tolerance", \.newtonTolerance, 0...1),
         .flag("ridge_in_place", \.ridgeInPlace), .choice("fallback", \.fallback, FallbackPolicy.self),
         .flag("expensive_monitors", \.expensiveMonitors)]
    }
    static func jorgeParameters<P: PrecisionPolicy>(_: P.Type) -> [Hyperparameter<Jorge<P>.Hyperparameters>] {
        [.number("learning_rate", \.learningRate, 0...1e6), .number("momentum", \.momentum, 0...1), .number("weight_decay", \.weightDecay, 0...1e3),
         .number("beta2", \.beta2, 0...1), .choice("coefficient_rule", \.coefficientRule, Jorge<P>.CoefficientRule.self),
         .choice("scale_mode", \.scaleMode, Jorge<P>.ScaleMode.self), .number("epsilon", \.epsilon, 1e-30...1e30),
         .integer("preconditioner_interval", \.preconditionerInterval, 1...100_000), .flag("expensive_monitors", \.expensiveMonitors)]
    }

    public static let descriptors: [OptimizerDescriptor] = [
        .init(name: "sgd", summary: "SGD (§3.1), momentum 0", parameters: sgdParameters(Probe.self).map(\.descriptor)),
        .init(name: "momentum", summary: "heavy-ball SGD (§3.1), momentum 0.9", parameters: sgdParameters(Probe.self).map(\.descriptor)),
        .init(name: "nesterov", summary: "Nesterov SGD (§3.1), momentum 0.9", parameters: sgdParameters(Probe.self).map(\.descriptor)),
        .init(name: "adam", summary: "Adam (§3.2)", parameters: adamParameters(Probe.self).map(\.descriptor)),
        .init(name: "adamw", summary: "AdamW (§3.3), decoupled decay 1e-2", parameters: adamParameters(Probe.self).map(\.descriptor)),
        .init(name: "kfac", summary: "KFAC (§4); variant kfac-f (default), kfac-e, kfac-i; finish practical (default) or lm (KFAC-LM, §4.4 steps 4'–6')", parameters: kfacParameters(Probe.self).map(\.descriptor)),
        .init(name: "singd", summary: "SINGD (§5), dense factors unless `structure` says otherwise", parameters: singdParameters(Probe.self).map(\.descriptor)),
        .init(name: "ikfac", summary: "IKFAC (§5.5): SINGD with kfac_like, α1 = 0", parameters: singdParameters(Probe.self).map(\.descriptor)),
        .init(name: "mkor", summary: "MKOR (§8), reference-code variant unless `variant` says mkor-ema", parameters: mkorParameters(Probe.self).map(\.descriptor)),
        .init(name: "shampoo", summary: "Shampoo (§6), reference-code order; coupled-Newton roots unless root_method = eigen", parameters: shampooParameters(Probe.self).map(\.descriptor)),
        .init(name: "jorge", summary: "Jorge (§7): inverse 4th roots updated by a quadratic series", parameters: jorgeParameters(Probe.self).map(\.descriptor)),
        .init(name: "rllc", summary: "dynamic memory with retrospective learning-law correction (§9)", parameters: rllcDescriptors),
    ]

    public static var names: [String] { descriptors.map(\.name) }
    public static func descriptor(named name: String) -> OptimizerDescriptor? { descriptors.first { $0.name == name } }

    /// Builds the optimizer of `config` for policy `P` (the config was validated at parse time).
    /// Throws when the combination of values is invalid for the optimizer (checked at parse time too).
    public static func make<P: PrecisionPolicy>(_ config: OptimizerConfig, settings: ArithmeticSettings, policy: P.Type) throws(OptimizerConfigurationError) -> ErasedOptimizer<P> {
        let v = config.parameters
        switch config.method {
        case "sgd", "momentum", "nesterov":
            var h = SGD<P>.Hyperparameters(momentum: config.method == "sgd" ? 0 : 0.9, nesterov: config.method == "nesterov")
            applying(sgdParameters(P.self), v, to: &h)
            return ErasedOptimizer(SGD<P>(h, settings: settings))
        case "adam", "adamw":
            var h = config.method == "adamw" ? Adam<P>.Hyperparameters.adamW : Adam<P>.Hyperparameters()
            applying(adamParameters(P.self), v, to: &h)
            return ErasedOptimizer(Adam<P>(h, settings: settings))
        case "kfac":
            var h = KFAC<P>.Hyperparameters()
            applying(kfacParameters(P.self), v, to: &h)
            // A key the chosen variant or finish does not read would let a study believe it set something it
            // did not (e.g. kfac-pytorch's INVERSE damping, which only KFAC-I reads, §4.3).
            var unread = h.finish == .lm ? kfacPracticalOnlyKeys : kfacLMOnlyKeys
            if h.variant != .identity { unread.append("unmodified_damping") }
            for key in unread.sorted() where v[key] != nil {
                let reason = key == "unmodified_damping" && h.finish != .lm
                    ? "applies only to variant = \"kfac-i\" (this cell uses \(h.variant.rawValue))"
                    : "does not apply to finish = \"\(h.finish.rawValue)\""
                throw OptimizerConfigurationError("kfac", field: key, value: v[key]!.description, reason: reason)
            }
            return ErasedOptimizer(kfac: KFAC<P>(h, settings: settings))
        case "singd", "ikfac":
            var h = SINGD<P>.Hyperparameters()
            h.kfacLike = config.method == "ikfac"
            applying(singdParameters(P.self), v, to: &h)
            return ErasedOptimizer(SINGD<P>(h, settings: settings))
        case "shampoo":
            var h = Shampoo<P>.Hyperparameters()
            applying(shampooParameters(P.self), v, to: &h)
            return ErasedOptimizer(Shampoo<P>(h, settings: settings))
        case "jorge":
            var h = Jorge<P>.Hyperparameters()
            applying(jorgeParameters(P.self), v, to: &h)
            return ErasedOptimizer(Jorge<P>(h, settings: settings))
        case "mkor":
            var h = MKOR<P>.Hyperparameters()
            applying(mkorParameters(P.self), v, to: &h)
            let o = try MKOR<P>(h, settings: settings)
            return ErasedOptimizer(o, observesLoss: h.hybrid != nil)
        case "rllc":
            var h = RLLC<P>.Hyperparameters()
            applying(rllcParameters(P.self), v, to: &h)
            (h.rule, h.initialLaw) = try rllcRule(v)
            return ErasedOptimizer(try RLLC<P>(h, settings: settings))
        default:
            preconditionFailure("unvalidated optimizer \(config.method)")
        }
    }
}
