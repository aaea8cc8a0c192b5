import Foundation
import Yams

extension ConfigReader {
    func decodeHTTP(_ fields: MappingFields) -> HTTPConfig {
        defer { fields.finish() }
        var http = HTTPConfig()
        if let routes = fields.mapping("routes") {
            for key in routes.keys {
                guard let routeFields = routes.mapping(key) else { continue }
                if let problem = Self.httpRouteKeyProblem(key) { report(routes.path(key), problem) }
                if let route = decodeHTTPRoute(routeFields) { http.routes[key] = route }
            }
            routes.finish()
        }
        if let cors = fields.mapping("cors") { http.cors = decodeCORS(cors) }
        return http
    }

    /// `$default`, or `METHOD /path` whose segments may be `{name}` and, last only, `{name+}`.
    static func httpRouteKeyProblem(_ key: String) -> String? {
        if key == "$default" { return nil }
        let expected = "expected $default or METHOD /path with METHOD one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, ANY"
        let parts = key.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, HTTPConfig.routeMethods.contains(String(parts[0])), parts[1].hasPrefix("/") else {
            return expected
        }
        let segments = parts[1].dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() where segment.contains("{") || segment.contains("}") {
            guard segment.hasPrefix("{"), segment.hasSuffix("}"), segment.count > 2 else {
                return "a path parameter must be a whole segment, like /{id} or /{proxy+}"
            }
            if segment.hasSuffix("+}"), index != segments.count - 1 {
                return "a greedy parameter {name+} must be the last segment"
            }
        }
        return nil
    }

    private func decodeHTTPRoute(_ fields: MappingFields) -> HTTPRouteConfig? {
        defer { fields.finish() }
        let integration = fields.required("integration").flatMap { string($0, at: fields.path("integration")) }
        let authorizer = fields.string("authorizer")
        let throttle = fields.mapping("throttle").flatMap(decodeRateLimit)
        let scopes = fields.stringList("scopes") ?? []
        let apiKeyRequired = fields.bool("api_key_required") ?? false
        let accessKeys = fields.stringList("access_keys") ?? []
        let validation = fields.mapping("validation").flatMap(decodeRouteValidation)
        guard let integration else { return nil }
        return HTTPRouteConfig(integration: integration, authorizer: authorizer, throttle: throttle, scopes: scopes,
                               apiKeyRequired: apiKeyRequired, accessKeys: accessKeys, validation: validation)
    }

    private func decodeRouteValidation(_ fields: MappingFields) -> RouteValidationConfig? {
        defer { fields.finish() }
        var validation = RouteValidationConfig()
        validation.query = fields.stringList("query") ?? []
        validation.headers = fields.stringList("headers") ?? []
        switch (fields["body"], fields.string("body_file")) {
        case (.some, .some):
            report(fields.path("body_file"), "give either body or body_file, not both")
        case (.some(let node), nil):
            if case .mapping = node {
                var text = ""
                if appendJSON(node, at: fields.path("body"), to: &text) { validation.bodySchemaJSON = text }
            } else {
                report(fields.path("body"), "expected a JSON Schema mapping")
            }
        case (nil, .some(let path)):
            let resolved = resolvedPath(path)
            if let data = FileManager.default.contents(atPath: resolved) {
                if (try? JSONSerialization.jsonObject(with: data)) is [String: Any] {
                    validation.bodySchemaJSON = String(decoding: data, as: UTF8.self)
                } else {
                    report(fields.path("body_file"), "\(resolved) is not a JSON object")
                }
            } else {
                report(fields.path("body_file"), "cannot read \(resolved)")
            }
        case (nil, nil):
            break
        }
        return validation
    }

    /// Writes a YAML node as JSON: plain scalars that read as numbers, booleans or null become
    /// those; quoted scalars stay strings (so `enum: ["1"]` keeps a string).
    private func appendJSON(_ node: Node, at keyPath: String, to out: inout String) -> Bool {
        switch node {
        case .mapping(let mapping):
            out += "{"
            var first = true
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    report(keyPath, "mapping keys must be strings")
                    return false
                }
                if !first { out += "," }
                first = false
                Self.appendJSONString(keyScalar.string, to: &out)
                out += ":"
                guard appendJSON(value, at: KeyPath.member(keyPath, keyScalar.string), to: &out) else { return false }
            }
            out += "}"
        case .sequence(let sequence):
            out += "["
            for (index, element) in sequence.enumerated() {
                if index > 0 { out += "," }
                guard appendJSON(element, at: KeyPath.element(keyPath, index), to: &out) else { return false }
            }
            out += "]"
        case .scalar(let scalar):
            let text = scalar.string
            if scalar.style == .plain {
                if ["true", "false", "null"].contains(text) { out += text; return true }
                if let number = Double(text), number.isFinite, text.first != "+", !text.hasPrefix("."), !text.hasSuffix(".") {
                    out += text
                    return true
                }
            }
            Self.appendJSONString(text, to: &out)
        case .alias:
            report(keyPath, "aliases are not supported in schemas")
            return false
        }
        return true
    }

    private static func appendJSONString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + String(format: "%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    private func decodeCORS(_ fields: MappingFields) -> CORSConfig {
        defer { fields.finish() }
        var cors = CORSConfig()
        cors.allowOrigins = fields.stringList("allow_origins") ?? []
        cors.allowHeaders = fields.stringList("allow_headers") ?? []
        if let node = fields["allow_methods"], let elements = sequence(node, at: fields.path("allow_methods")) {
            for element in elements {
                guard let method = string(element.node, at: element.keyPath) else { continue }
                if method == "*" || (HTTPConfig.routeMethods.contains(method) && method != "ANY") {
                    cors.allowMethods.append(method)
                } else {
                    report(element.keyPath, "expected an HTTP method like GET, or *")
                }
            }
        }
        if let maxAge = fields.int("max_age") {
            if maxAge >= 0 { cors.maxAge = maxAge } else { report(fields.path("max_age"), "must not be negative") }
        }
        cors.exposeHeaders = fields.stringList("expose_headers") ?? []
        cors.allowCredentials = fields.bool("allow_credentials") ?? false
        if cors.allowCredentials, cors.allowOrigins.contains("*") {
            // As API Gateway: browsers refuse `*` with credentials, so the pair is a mistake.
            report(fields.path("allow_credentials"), "cannot be true when allow_origins contains *")
        }
        return cors
    }
}

extension ConfigReader {
    /// Key `api_keys`: `keys` (and/or `keys_file`) and `plans`.
    func decodeAPIKeys(_ fields: MappingFields) -> APIKeysConfig {
        defer { fields.finish() }
        var config = APIKeysConfig()
        if let plans = fields.mapping("plans") {
            for name in plans.keys {
                guard let planFields = plans.mapping(name) else { continue }
                var plan = UsagePlanConfig()
                plan.throttle = planFields.mapping("throttle").flatMap(decodeRateLimit)
                if let quotaFields = planFields.mapping("quota") {
                    let limit = quotaFields.required("limit").flatMap { positiveInt($0, at: quotaFields.path("limit")) }
                    let period: QuotaPeriod? = quotaFields.required("period").flatMap { choice($0, at: quotaFields.path("period")) }
                    quotaFields.finish()
                    if let limit, let period { plan.quota = QuotaConfig(limit: limit, period: period) }
                }
                planFields.finish()
                config.plans[name] = plan
            }
            plans.finish()
        }
        if let node = fields["keys"], let entries = sequence(node, at: fields.path("keys")) {
            for entry in entries {
                guard let keyFields = mapping(entry.node, at: entry.keyPath) else { continue }
                let value = keyFields.secret("value", required: true)
                let plan = keyFields.required("plan").flatMap { string($0, at: keyFields.path("plan")) }
                let id = keyFields.string("id") ?? "key-\(config.keys.count + 1)"
                if let plan, config.plans[plan] == nil { report(keyFields.path("plan"), "no plan named \"\(plan)\" in api_keys.plans") }
                keyFields.finish()
                if let value, let plan { config.keys.append(APIKeyConfig(id: id, value: value, plan: plan)) }
            }
        }
        if let path = fields.string("keys_file") {
            let resolved = resolvedPath(path)
            if let data = FileManager.default.contents(atPath: resolved), let text = String(data: data, encoding: .utf8) {
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
                    if words.isEmpty || words[0].hasPrefix("#") { continue }
                    let at = "\(fields.path("keys_file")) line \(number + 1)"
                    guard words.count == 2 || words.count == 3 else {
                        report(at, "expected VALUE PLAN [ID]")
                        continue
                    }
                    let plan = String(words[1])
                    if config.plans[plan] == nil { report(at, "no plan named \"\(plan)\" in api_keys.plans"); continue }
                    let id = words.count == 3 ? String(words[2]) : "key-\(config.keys.count + 1)"
                    config.keys.append(APIKeyConfig(id: id, value: String(words[0]), plan: plan))
                }
            } else {
                report(fields.path("keys_file"), "cannot read \(resolved)")
            }
        }
        var seen: Set<String> = []
        for key in config.keys where !seen.insert(key.value).inserted {
            report(fields.path("keys"), "key \(key.id) has the same value as another key")
        }
        return config
    }
}
