import Testing
import Foundation
import StudyKit

/// Precisions declared role by role in the study file (run-time formats): they run, report and verify
/// bit-identically whatever `--jobs`; a declaration equal to a catalogue policy gives that policy's
/// results bit for bit; the manifest records every role's parameters.
@Suite struct DeclaredPrecisions {
    static let study = tinyStudy
        .replacingOccurrences(of: "precisions = [\"fp32\", \"bf16\"]", with: """
            precisions = ["fp32", "tf32", { name = "tf32-declared", all = "tf32" },
                          { name = "e5m2-w", weights = "fp8-e5m2", factors = "bf16", inverses = "fp32", moments = "bf16+sr" },
                          { name = "p10e5-sr", all = { precision = 10, emax = 15, rounding = "stochastic" } }]
            """)
        .replacingOccurrences(of: "low = [\"bf16\"]", with: "low = [\"e5m2-w\", \"p10e5-sr\"]")

    /// (cell, seed, step, metric, layer) → value, for one precision of a results.csv.
    static func values(_ csv: String, precision: String) -> [String: String] {
        var out = [String: String]()
        for line in csv.split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 9, f[3] == precision else { continue }
            out["\(f[1])|\(f[4])|\(f[5])|\(f[6])|\(f[7])"] = f[8]
        }
        return out
    }

    @Test func declaredPrecisionsRunReportAndVerifyWhateverTheJobs() throws {
        let a = temporaryDirectory("declared-a"), b = temporaryDirectory("declared-b")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        let parallel = try runStudy(Self.study, out: a, jobs: 2)
        let serial = try runStudy(Self.study, out: b, jobs: 1)
        #expect(parallel == serial)
        let manifest = try JSONParser.parse(bytes: try AtomicFile.read("\(a)/tiny/manifest.json"))
        let weights = manifest["declared_precisions"]?["e5m2-w"]?["weights"]
        #expect(weights?["name"]?.stringValue == "fp8-e5m2")
        #expect(weights?["parameters"]?.stringValue == "p=3 emax=15 emin=-14 subnormals=yes infinities=yes max=57344.0 overflow=infinity rounding=rne")
        #expect(manifest["declared_precisions"]?["p10e5-sr"]?["moments"]?["parameters"]?.stringValue?.hasSuffix("rounding=sr") == true)
        let readme = try String(contentsOfFile: "\(a)/tiny/README.md", encoding: .utf8)
        #expect(readme.contains("`e5m2-w` (declared: weights fp8-e5m2 (p=3 emax=15"))
        let csv = try String(contentsOfFile: "\(a)/tiny/results.csv", encoding: .utf8)
        // the formats are used: the declared precisions' trajectories differ from fp32's and from each other
        let fp32 = Self.values(csv, precision: "fp32"), e5m2 = Self.values(csv, precision: "e5m2-w")
        let p10 = Self.values(csv, precision: "p10e5-sr")
        #expect(!e5m2.isEmpty && !p10.isEmpty && e5m2 != fp32 && p10 != fp32 && p10 != e5m2)
    }

    /// tf32 declared as data runs through `RuntimeFloat`; the catalogue's `tf32` through the compiled
    /// `SimulatedFloat<TF32Format>`. Every recorded value of every cell must agree bit for bit.
    @Test func aDeclaredCatalogueFormatEqualsTheCompiledPolicy() throws {
        let out = temporaryDirectory("declared-tf32")
        defer { try? FileManager.default.removeItem(atPath: out) }
        _ = try runStudy(Self.study, out: out, jobs: 2)
        let csv = try String(contentsOfFile: "\(out)/tiny/results.csv", encoding: .utf8)
        let compiled = Self.values(csv, precision: "tf32"), declared = Self.values(csv, precision: "tf32-declared")
        #expect(compiled.count > 50)
        #expect(compiled == declared)
    }

    /// Changing one parameter of a declared format changes its cells' keys: nothing stale is reused.
    @Test func aChangedFormatIsANewCell() throws {
        let one = try StudyPlan(try StudyParser.parse(Self.study, file: "tiny.toml", quick: false))
        let changed = Self.study.replacingOccurrences(of: "precision = 10, emax = 15", with: "precision = 10, emax = 14")
        let two = try StudyPlan(try StudyParser.parse(changed, file: "tiny.toml", quick: false))
        let keys = { (p: StudyPlan, name: String) in Set(p.cells.filter { $0.precision == name }.map(\.key)) }
        #expect(keys(one, "p10e5-sr").isDisjoint(with: keys(two, "p10e5-sr")))
        #expect(keys(one, "e5m2-w") == keys(two, "e5m2-w"))
    }
}
