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
         .flag("expensive_monitors", \.expensiveMonitors)]
    }
    static func singdParameters<P: PrecisionPolicy>(_: P.Type) -> [Hyperparameter<SINGD<P>.Hyperparameters>] {
        let structures = ["dense", "diagonal", "block30diagonal", "block4diagonal", "block8diagonal", "block16diagonal", "triltoeplitz", "triutoeplitz"]
        return [.number("learning_rate", \.learningRate, 0...1e6), .number("momentum", \.momentum, 0...1),
         .number("damping", \.damping, 0...1e6), .number("alpha1", \.alpha1, 0...1), .number("weight_decay", \.weightDecay, 0...1e3),
         .integer("interval", \.interval, 1...100_000), .number("lr_cov", \.factorLearningRate, 0...1e3),
         .custom("structure", .choice(structures)) { h, v in
             if case .text(let s) = v, let st = FactorStructure(name: s) { h.structureK = st; h.structureC = st } },
         .custom("structure_k", .choice(structures)) { h, v in if case .text(let s) = v, let st = FactorStructure(name: s) { h.structureK = st } },
         .custom("structure_c", .choice(structures)) { h, v in if case .text(let s) = v, let st = FactorStructure(name: s) { h.structureC = st } },
         .flag("normalize_lr_cov", \.normalizeFactorLearningRate), .flag("expensive_monitors", \.expensiveMonitors)]
    }

    public static let descriptors: [OptimizerDescriptor] = [
        .init(name: "sgd", summary: "SGD (§3.1), momentum 0", parameters: sgdParameters(Probe.self).map(\.descriptor)),
        .init(name: "momentum", summary: "heavy-ball SGD (§3.1), momentum 0.9", parameters: sgdParameters(Probe.self).map(\.descriptor)),
        .init(name: "nesterov", summary: "Nesterov SGD (§3.1), momentum 0.9", parameters: sgdParameters(Probe.self).map(\.descriptor)),
        .init(name: "adam", summary: "Adam (§3.2)", parameters: adamParameters(Probe.self).map(\.descriptor)),
        .init(name: "adamw", summary: "AdamW (§3.3), decoupled decay 1e-2", parameters: adamParameters(Probe.self).map(\.descriptor)),
        .init(name: "kfac", summary: "KFAC (§4); variant kfac-f (default), kfac-e, kfac-i", parameters: kfacParameters(Probe.self).map(\.descriptor)),
        .init(name: "singd", summary: "SINGD (§5), dense factors unless `structure` says otherwise", parameters: singdParameters(Probe.self).map(\.descriptor)),
        .init(name: "ikfac", summary: "IKFAC (§5.5): SINGD with kfac_like, α1 = 0", parameters: singdParameters(Probe.self).map(\.descriptor)),
    ]

    public static var names: [String] { descriptors.map(\.name) }
    public static func descriptor(named name: String) -> OptimizerDescriptor? { descriptors.first { $0.name == name } }

    /// Builds the optimizer of `config` for policy `P` (the config was validated at parse time).
    public static func make<P: PrecisionPolicy>(_ config: OptimizerConfig, settings: ArithmeticSettings, policy: P.Type) -> ErasedOptimizer<P> {
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
            return ErasedOptimizer(KFAC<P>(h, settings: settings))
        case "singd", "ikfac":
            var h = SINGD<P>.Hyperparameters()
            h.kfacLike = config.method == "ikfac"
            applying(singdParameters(P.self), v, to: &h)
            return ErasedOptimizer(SINGD<P>(h, settings: settings))
        default:
            preconditionFailure("unvalidated optimizer \(config.method)")
        }
    }
}
