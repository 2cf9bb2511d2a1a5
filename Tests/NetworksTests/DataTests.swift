import Testing
import Foundation
import LinearAlgebra
import Networks

@Suite struct SHA256Vectors {
    /// FIPS 180-2 appendix B test vectors.
    @Test func fipsVectors() {
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

@Suite struct BundledDataSets {
    @Test func digitsShapesAndLabels() throws {
        let d = try BundledData.load("digits")
        #expect(d.sampleCount == 1797 && d.featureCount == 64 && d.classCount == 10)
        #expect(Set(d.labels) == Set(0..<10))
        #expect(d.features.elements.allSatisfy { $0 >= 0 && $0 <= 16 && $0 == $0.rounded() })
    }

    /// Raw breast-cancer features span about five orders of magnitude (the stress case).
    @Test func breastCancerShapesAndRange() throws {
        let d = try BundledData.load("breast_cancer")
        #expect(d.sampleCount == 569 && d.featureCount == 30 && d.classCount == 2)
        #expect(d.labels.filter { $0 == 0 }.count == 212)          // malignant (UCI documentation)
        let positive = d.features.elements.filter { $0 > 0 }
        #expect(positive.max()! / positive.min()! > 1e4)
    }

    @Test func splitIsDeterministicAndDisjoint() throws {
        let d = try BundledData.load("digits")
        let (a, b) = try d.split(trainFraction: 0.8, seed: 7)
        let (a2, _) = try d.split(trainFraction: 0.8, seed: 7)
        #expect(a == a2)
        #expect(a.sampleCount + b.sampleCount == 1797 && a.sampleCount == 1438)
        let (c, _) = try d.split(trainFraction: 0.8, seed: 8)
        #expect(c != a)
    }

    @Test func unknownNameIsNamed() {
        do { _ = try BundledData.load("mnist"); Issue.record("expected an error") } catch {
            #expect(error.description.contains("mnist") && error.description.contains("digits"))
        }
    }
}

@Suite struct MalformedData {
    func parse(_ text: String, header: Bool = false) -> DatasetError? {
        do { _ = try CSVClassification.parse(text, source: "bad.csv", name: "bad", features: 2, classes: 3, header: header); return nil }
        catch { return error }
    }

    @Test func wrongColumnCountNamesLine() {
        let e = parse("1,2,0\n1,2,3,0\n")
        #expect(e?.line == 2 && e?.source == "bad.csv")
    }
    @Test func nonNumericFieldNamesLineAndColumn() {
        let e = parse("1,2,0\n1,x,1\n")
        #expect(e?.line == 2 && e?.column == 2)
        #expect(e?.description.contains("\"x\"") == true)
    }
    @Test func nanIsRejectedWithPlace() {
        let e = parse("nan,2,0\n")
        #expect(e?.line == 1 && e?.column == 1)
    }
    @Test func labelOutOfRangeNamesColumn() {
        let e = parse("1,2,3\n")
        #expect(e?.line == 1 && e?.column == 3)
    }
    @Test func headerRowCountMismatch() {
        let e = parse("3,2,a,b\n1,2,0\n", header: true)
        #expect(e?.description.contains("expected 3 data rows") == true)
    }
}
