@main
struct StudiesCommand {
    static func main() {
        print("Studies: the study runner is not built yet.")
    }
}
