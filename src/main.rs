fn main() -> std::process::ExitCode {
    brick::cli::main()
}
