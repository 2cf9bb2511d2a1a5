/// A GitHub-flavoured Markdown table.
///
/// Columns are padded to a common width (counted in `Character`s) so the source is readable in a
/// diff as well as rendered. Cell text is escaped so that it cannot break the table: `|` becomes
/// `\|` and a line break becomes `<br>` (GitHub renders that tag inside tables). Other Markdown in a
/// cell (`*x*`, `` `code` ``) is left alone on purpose: captions may use it.
///
/// *Edge case:* GFM unescapes `\|` before parsing inlines, so a backslash written directly before a
/// `|` in cell text is lost in rendering; report cells do not contain that pair.
public struct MarkdownTable: Sendable, Equatable {
    /// Column alignment, as the delimiter row states it (`:--`, `:-:`, `--:`, `---`).
    public enum Alignment: Sendable, Equatable { case none, left, center, right }

    public struct Column: Sendable, Equatable {
        public var title: String
        public var alignment: Alignment
        public init(_ title: String, alignment: Alignment = .none) {
            self.title = title; self.alignment = alignment
        }
    }

    public var columns: [Column]
    public var rows: [[String]]

    public init(columns: [Column], rows: [[String]]) {
        self.columns = columns; self.rows = rows
    }

    /// The table's Markdown, one line per row, ending with a newline. Every row must have one cell
    /// per column (a ragged table is a caller bug, reported rather than padded).
    public func rendered() throws(ReportError) -> String {
        precondition(!columns.isEmpty, "a Markdown table needs at least one column")
        for (i, row) in rows.enumerated() where row.count != columns.count {
            throw .rowWidth(table: "Markdown", row: i, expected: columns.count, found: row.count)
        }
        let header = columns.map { MarkdownTable.escape($0.title) }
        let body = rows.map { $0.map(MarkdownTable.escape) }
        var widths = header.map { max($0.count, 3) }
        for row in body { for (j, cell) in row.enumerated() { widths[j] = max(widths[j], cell.count) } }

        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { j, cell in
                MarkdownTable.pad(cell, to: widths[j], alignment: columns[j].alignment)
            }
            return "| " + padded.joined(separator: " | ") + " |\n"
        }
        let delimiters = columns.enumerated().map { j, column -> String in
            let w = widths[j]
            switch column.alignment {
            case .none: return String(repeating: "-", count: w)
            case .left: return ":" + String(repeating: "-", count: w - 1)
            case .right: return String(repeating: "-", count: w - 1) + ":"
            case .center: return ":" + String(repeating: "-", count: w - 2) + ":"
            }
        }
        return line(header) + "| " + delimiters.joined(separator: " | ") + " |\n" + body.map(line).joined()
    }

    /// Cell text made safe for a table cell (`|` → `\|`, CR/LF → `<br>`).
    public static func escape(_ text: String) -> String {
        var out = ""
        var previousCR = false
        for scalar in text.unicodeScalars {
            switch scalar {
            case "|": out += "\\|"; previousCR = false
            case "\r": out += "<br>"; previousCR = true
            case "\n": if !previousCR { out += "<br>" }; previousCR = false
            default: out.unicodeScalars.append(scalar); previousCR = false
            }
        }
        return out
    }

    static func pad(_ cell: String, to width: Int, alignment: Alignment) -> String {
        let gap = width - cell.count
        guard gap > 0 else { return cell }
        switch alignment {
        case .right: return String(repeating: " ", count: gap) + cell
        case .center:
            let left = gap / 2
            return String(repeating: " ", count: left) + cell + String(repeating: " ", count: gap - left)
        case .none, .left: return cell + String(repeating: " ", count: gap)
        }
    }
}
