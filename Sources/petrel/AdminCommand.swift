import ArgumentParser
import Foundation
import PetrelAdminClient
import PetrelCrypto

/// `petrel admin ...`: the admin API for operators (DESIGN §6). Parsing only; the calls are in
/// PetrelAdminClient. A server's refusal is one line on stderr and exit 1; bad flags exit 2.
struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Call the admin API: post, get, delete, groups, stats.",
        subcommands: [AdminPost.self, AdminGet.self, AdminDelete.self, AdminGroups.self, AdminStatsCommand.self])
}

struct AdminOptions: ParsableArguments {
    @Option(name: .long, help: "Admin listener URL, with the stage if the API uses one.") var admin = "http://127.0.0.1:9090"
    @Option(name: .long, help: "Bearer token (default: $PETREL_ADMIN_TOKEN).") var token: String?
    @Option(name: .customLong("access-key"), help: "SigV4 access key id (admin.auth.sigv4).") var accessKey: String?
    @Option(name: .customLong("secret-key"), help: "SigV4 secret access key.") var secretKey: String?
    @Option(name: .long, help: "SigV4 region in the credential scope.") var region = "us-east-1"

    func validate() throws {
        if (accessKey == nil) != (secretKey == nil) {
            throw ValidationError("--access-key and --secret-key go together")
        }
        if accessKey != nil && token != nil { throw ValidationError("use either --token or --access-key/--secret-key") }
    }

    func client() throws -> AdminClient {
        let credentials: AdminCredentials
        if let accessKey, let secretKey {
            credentials = .sigv4(SigV4Signer(credentials: SigV4Credentials(accessKeyId: accessKey, secretAccessKey: secretKey),
                                             region: region))
        } else if let token = token ?? ProcessInfo.processInfo.environment["PETREL_ADMIN_TOKEN"], !token.isEmpty {
            credentials = .bearer(token)
        } else {
            credentials = .none
        }
        do {
            return try AdminClient(url: admin, credentials: credentials)
        } catch {
            throw CLIFailure(message: error.description)
        }
    }
}

/// Runs one call; the server's refusal or no answer is exit 1 with its status and message.
func adminCall<T>(_ body: () throws(AdminClientError) -> T) throws -> T {
    do {
        return try body()
    } catch .badURL(let url) {
        throw CLIFailure(message: AdminClientError.badURL(url).description)
    } catch {
        throw CLIFailure(message: error.description, code: 1)
    }
}

/// `--data TEXT` or `--file F` (`-` for stdin), exactly one.
struct MessageOptions: ParsableArguments {
    @Option(name: .long, help: "The message text.") var data: String?
    @Option(name: .long, help: "Read the message from a file ('-' for stdin).") var file: String?

    func validate() throws {
        if (data == nil) == (file == nil) { throw ValidationError("give the message with either --data or --file") }
    }

    func bytes() throws -> [UInt8] {
        if let data { return Array(data.utf8) }
        let path = file!
        let handle = path == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: path)
        guard let handle else { throw CLIFailure(message: "--file: cannot read \(path)") }
        return Array(handle.readDataToEndOfFile())
    }
}

/// One connection id in 64 begins with '-', which reads as an option unless it follows `--`.
private let idHelp = ArgumentHelp("Connection id (after `--` when it begins with '-': `post --data hi -- -AbC…`).")

struct AdminPost: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "post", abstract: "Send a message to a connection.")
    @OptionGroup var options: AdminOptions
    @Argument(help: idHelp) var id: String
    @OptionGroup var message: MessageOptions

    func run() throws {
        let client = try options.client(), bytes = try message.bytes()
        try adminCall { () throws(AdminClientError) in try client.post(to: id, bytes) }
    }
}

struct AdminGet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a connection's details (JSON).")
    @OptionGroup var options: AdminOptions
    @Argument(help: idHelp) var id: String

    func run() throws {
        let client = try options.client()
        print(try adminCall { () throws(AdminClientError) in try client.get(id) })
    }
}

struct AdminDelete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Close a connection.")
    @OptionGroup var options: AdminOptions
    @Argument(help: idHelp) var id: String
    @Option(name: .long, help: "Close code: 1000 or 3000-4999.") var code: Int?
    @Option(name: .long, help: "Close reason (at most 123 bytes).") var reason: String?

    func run() throws {
        let client = try options.client()
        try adminCall { () throws(AdminClientError) in try client.delete(id, code: code, reason: reason) }
    }
}

struct AdminGroups: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups", abstract: "List, join, leave and post to groups.",
        subcommands: [List.self, Add.self, Remove.self, Post.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a group's member ids, one a line.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "Group name.") var group: String

        func run() throws {
            let client = try options.client()
            for id in try adminCall({ () throws(AdminClientError) in try client.members(of: group) }) { print(id) }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a connection to a group.")
        @OptionGroup var options: AdminOptions
        @Argument(help: idHelp) var id: String
        @Argument(help: "Group name.") var group: String

        func run() throws {
            let client = try options.client()
            try adminCall { () throws(AdminClientError) in try client.join(id, group: group) }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a connection from a group.")
        @OptionGroup var options: AdminOptions
        @Argument(help: idHelp) var id: String
        @Argument(help: "Group name.") var group: String

        func run() throws {
            let client = try options.client()
            try adminCall { () throws(AdminClientError) in try client.leave(id, group: group) }
        }
    }

    struct Post: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a message to every member, on every node.")
        @OptionGroup var options: AdminOptions
        @Argument(help: "Group name.") var group: String
        @OptionGroup var message: MessageOptions

        func run() throws {
            let client = try options.client(), bytes = try message.bytes()
            try adminCall { () throws(AdminClientError) in try client.post(toGroup: group, bytes) }
        }
    }
}

struct AdminStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Summarise the node's counters.")
    @OptionGroup var options: AdminOptions
    @Flag(name: .long, help: "Print the dashboard snapshot JSON instead.") var json = false

    func run() throws {
        let client = try options.client()
        let snapshot = try adminCall { () throws(AdminClientError) in try client.snapshot() }
        if json {
            print(String(decoding: snapshot, as: UTF8.self))
        } else if let summary = AdminStats.summary(snapshot) {
            print(summary)
        } else {
            throw CLIFailure(message: "the admin listener's snapshot is not JSON", code: 1)
        }
    }
}
