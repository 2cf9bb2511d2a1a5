import Testing
import StudyKit

@Suite struct CanonicalJSONWriting {
    @Test func prettyPrintedWithSortedKeys() {
        let v: JSONValue = .object([
            "study": .string("adam-eps"),
            "files": .array([.object(["sha256": .string("ab"), "path": .string("a.csv")]), .integer(3)]),
            "empty": .object([:]),
            "none": .array([]),
            "ok": .bool(true),
            "missing": .null,
            "u": .number(1.0e-5),
        ])
        let expected = """
        {
          "empty": {},
          "files": [
            {
              "path": "a.csv",
              "sha256": "ab"
            },
            3
          ],
          "missing": null,
          "none": [],
          "ok": true,
          "study": "adam-eps",
          "u": 1e-05
        }

        """
        #expect(v.canonicalText == expected)
    }

    /// Keys are ordered by UTF-8 bytes: upper case before lower case, non-ASCII last.
    @Test func keyOrderIsByteOrder() {
        let v: JSONValue = .object(["b": .null, "é": .null, "aa": .null, "B": .null, "a": .null])
        let keys = v.canonicalText.split(separator: "\n").dropFirst().dropLast().map { $0.split(separator: ":")[0] }
        #expect(keys == ["  \"B\"", "  \"a\"", "  \"aa\"", "  \"b\"", "  \"é\""])
    }

    @Test func stringEscaping() {
        let s = "q\"b\\s/\n\t\r\u{8}\u{C}\u{01}\u{1F}\u{7F}é漢😀"
        #expect(JSONValue.string(s).canonicalText == #""q\"b\\s/\n\t\r\b\f\u0001\u001f\#u{7F}é漢😀""# + "\n")
    }

    @Test func nonFiniteNumbersAreStrings() throws {
        let v: JSONValue = .array([.number(.nan), .number(.infinity), .number(-.infinity), .number(-0.0)])
        #expect(v.canonicalText == "[\n  \"nan\",\n  \"inf\",\n  \"-inf\",\n  -0.0\n]\n")
        let back = try JSONParser.parse(v.canonicalText)
        #expect(back.arrayValue?[0] == .string("nan"))
        #expect(back.arrayValue?[0].doubleValue?.isNaN == true)
        #expect(back.arrayValue?[2].doubleValue == -.infinity)
        #expect(back.arrayValue?[3].doubleValue?.sign == .minus)
    }
}

@Suite struct CanonicalJSONReading {
    @Test func roundTripIsExact() throws {
        let v: JSONValue = .object([
            "numbers": .array([.number(0.1), .number(1.0), .number(1e300), .number(.leastNonzeroMagnitude), .number(-2.5),
                               .integer(0), .integer(Int.max), .integer(Int.min)]),
            "text": .array([.string(""), .string("a\"b\\c\u{0}\u{1F}\n"), .string("κ·n·u ≤ 1 😀")]),
            "nested": .object(["x": .object(["y": .array([.null, .bool(false), .bool(true)])])]),
        ])
        let text = v.canonicalText
        let back = try JSONParser.parse(text)
        #expect(back == v)
        #expect(back.canonicalText == text)
    }

    @Test func numbersKeepTheirKind() throws {
        #expect(try JSONParser.parse("1") == .integer(1))
        #expect(try JSONParser.parse("-0") == .integer(0))
        #expect(try JSONParser.parse("1.0") == .number(1))
        #expect(try JSONParser.parse("1e2") == .number(100))
        #expect(try JSONParser.parse("12345678901234567890") == .number(Double("12345678901234567890")!))
        #expect(try JSONParser.parse("2.5").intValue == nil)
        #expect(try JSONParser.parse("4.0").intValue == 4)
    }

    @Test func escapesFromOtherWritersAreRead() throws {
        #expect(try JSONParser.parse(#" "\ud83d\ude00\u00e9\/\u0041" "#) == .string("😀é/A"))
        #expect(try JSONParser.parse(" { \"a\" : [ 1 , 2 ] } \n")["a"] == .array([.integer(1), .integer(2)]))
    }

    @Test(arguments: ["[1,]", "{\"a\":1,\"a\":2}", "\"abc", "01", "[1 2]", "\"a\u{01}\"", "{a:1}", "1.", "-",
                      "\"\\ud800\"", "\"\\x\"", "nul", "[] []", ""])
    func malformedTextIsRejected(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func duplicateKeyErrorNamesTheKey() {
        do {
            _ = try JSONParser.parse("{\"k\": 1, \"k\": 2}")
            Issue.record("accepted a duplicate key")
        } catch {
            #expect(error.message == "duplicate key \"k\"" && error.offset == 9)
        }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
    }
}
