import Testing
import StudyKit

@Suite struct CSVQuoting {
    @Test func fieldsAreQuotedOnlyWhenRFC4180RequiresIt() {
        #expect(CSVWriter.quote("abc") == "abc")
        #expect(CSVWriter.quote(" padded ") == " padded ")
        #expect(CSVWriter.quote("") == "")
        #expect(CSVWriter.quote("a,b") == "\"a,b\"")
        #expect(CSVWriter.quote("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSVWriter.quote("two\nlines") == "\"two\nlines\"")
        #expect(CSVWriter.quote("cr\rhere") == "\"cr\rhere\"")
    }

    @Test func tidyTableText() throws {
        let text = try CSVWriter.render(
            header: ["optimizer", "seed", "loss", "note"],
            rows: [["adam", 1, 0.1, .empty],
                   ["kfac, damped", 2, .number(.nan), "diverged at step 3"],
                   ["sgd", 3, .number(-.infinity), "\"quoted\""]])
        #expect(text == """
        optimizer,seed,loss,note
        adam,1,0.1,
        "kfac, damped",2,nan,diverged at step 3
        sgd,3,-inf,\"\"\"quoted\"\"\"

        """)
    }

    @Test func raggedRowsAreRejected() {
        #expect(throws: ReportError.rowWidth(table: "CSV", row: 1, expected: 2, found: 3)) {
            try CSVWriter.render(header: ["a", "b"], rows: [[1, 2], [1, 2, 3]])
        }
    }

    @Test func readerRecoversWhatTheWriterWrote() throws {
        let rows: [[String]] = [["h1", "h,2", "h\"3"], ["", "multi\r\nline", "é,漢"], ["x", "\"\"", " y "]]
        let text = rows.map(CSVWriter.record).joined()
        #expect(try CSVReader.parse(text) == rows)
        #expect(try CSVReader.parse("a,b\r\n1,2") == [["a", "b"], ["1", "2"]])
        #expect(throws: ReportError.self) { try CSVReader.parse("\"open") }
        #expect(throws: ReportError.self) { try CSVReader.parse("\"a\"b,c") }
    }
}

@Suite struct MarkdownTables {
    @Test func alignmentAndPadding() throws {
        let t = MarkdownTable(
            columns: [.init("optimizer", alignment: .left), .init("loss", alignment: .right),
                      .init("ok", alignment: .center), .init("n")],
            rows: [["adam", "0.123", "yes", "1"], ["kfac", "1.00e-4", "no", "10"]])
        #expect(try t.rendered() == """
        | optimizer |    loss | ok  | n   |
        | :-------- | ------: | :-: | --- |
        | adam      |   0.123 | yes | 1   |
        | kfac      | 1.00e-4 | no  | 10  |

        """)
    }

    @Test func pipesAndLineBreaksCannotBreakTheTable() throws {
        #expect(MarkdownTable.escape("a|b") == "a\\|b")
        #expect(MarkdownTable.escape("one\ntwo\r\nthree") == "one<br>two<br>three")
        let t = MarkdownTable(columns: [.init("x|y")], rows: [["|"]])
        #expect(try t.rendered() == "| x\\|y |\n| ---- |\n| \\|   |\n")
    }

    @Test func raggedRowsAreRejected() {
        let t = MarkdownTable(columns: [.init("a"), .init("b")], rows: [["1", "2"], ["3"]])
        #expect(throws: ReportError.rowWidth(table: "Markdown", row: 1, expected: 2, found: 1)) { try t.rendered() }
    }
}
