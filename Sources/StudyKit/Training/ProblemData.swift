import Networks
import LinearAlgebra

/// The data of a training study, built once in Double and shared (read-only) by every cell; each
/// cell converts batches to its own type (the conversion is part of the cell).
public struct ProblemData: Sendable {
    public let train: Dataset
    public let test: Dataset
    public let network: MLPSpec

    /// The data seed is fixed per study (0): every cell sees the same split and the same synthetic
    /// teacher, so seeds vary only initialisation and batch order.
    public static let dataSeed: UInt64 = 0

    public init(_ p: ProblemSpec, file: String) throws(StudyError) {
        let full: Dataset
        do {
            switch p.dataset {
            case "digits", "breast_cancer": full = try BundledData.load(p.dataset)
            case "synthetic-classification":
                full = Synthetic.teacherClassification(samples: p.samples, dimension: p.features, classes: p.outputs,
                                                       condition: p.condition, seed: Self.dataSeed)
            default:
                full = Synthetic.teacherRegression(samples: p.samples, dimension: p.features, outputs: p.outputs,
                                                   condition: p.condition, noise: 0.01, seed: Self.dataSeed)
            }
        } catch {
            throw StudyError(file: file, field: "problem.dataset", value: "\"\(p.dataset)\"", reason: "\(error)")
        }
        var (train, test): (Dataset, Dataset)
        do { (train, test) = try full.split(trainFraction: p.trainFraction, seed: Self.dataSeed) } catch {
            throw StudyError(file: file, field: "problem.train_fraction", value: "\(p.trainFraction)", reason: "\(error)")
        }
        if p.normalize {
            let standardize = train.standardizer()
            train = standardize(train); test = standardize(test)
        }
        self.train = train; self.test = test
        do {
            network = try MLPSpec(widths: [full.featureCount] + p.hidden + [full.outputCount], activation: p.activation,
                                  loss: p.loss, bias: p.bias, initialization: p.initialization)
        } catch {
            throw StudyError(file: file, field: "problem.hidden", value: "\(p.hidden)", reason: "\(error)")
        }
    }
}
