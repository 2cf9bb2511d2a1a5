/// Every monitor name an optimizer in this module emits, as templates: `{side}` stands for a factor's
/// side (A, G, L, R, K, C, …) and `{n}` for an index. A study's `monitors` patterns are checked
/// against it, so a misspelt name is an error instead of a column that silently never appears; a test
/// runs every optimizer and checks that each name it emits matches a template here.
public enum MonitorCatalogue {
    public static let templates: [String] = [
        "beta1_rho_m_K",
        "beta2_eff_{side}",
        "buffer_norm",
        "clamped_eigenvalues_{side}",
        "coefficient_c_{side}",
        "cos_direction_gradient",
        "cos_step_gradient",
        "cos_update_gradient",
        "effective_step_ratio",
        "graft_ratio",
        "inv_res_A",
        "inv_res_G",
        "inv_res_{side}inv",
        "kappa_A_damped",
        "kappa_G_damped",
        "kappa_K",
        "kappa_MtM",
        "kappa_{side}",
        "kappa_damped_kronecker",
        "kappa_root_{side}",
        "kl_nu",
        "lambda_max_{side}",
        "lambda_min_A",
        "lambda_min_G",
        "lambda_min_{side}",
        "lambda_min_{side}inv",
        "law_{n}",
        "law_norm",
        "lm_alpha",
        "lm_gamma",
        "lm_lambda",
        "lm_model_change",
        "lm_mu",
        "lm_rho",
        "m_norm",
        "max_abs_L",
        "max_abs_R",
        "max_abs_root_{side}",
        "max_entry_{side}inv",
        "max_m_K",
        "min_abs_root_{side}",
        "min_eigenvalue_{side}",
        "min_v",
        "newton_error_{side}",
        "newton_guard_stops",
        "newton_iterations_{side}",
        "norm_M_K",
        "norm_m_K",
        "nu",
        "pi",
        "power_lambda_max_{side}",
        "pure_eps_denominators",
        "reset_count",
        "rho_Y_{side}",
        "ridge_{side}",
        "root_residual_{side}",
        "scale_s_{side}",
        "sm_denominator_{side}",
        "stagnation_C",
        "stagnation_K",
        "stagnation_W",
        "sym_err_A",
        "sym_err_G",
        "sym_err_{side}inv",
        "sym_err_root_{side}",
        "tau_H_C",
        "tau_H_K",
        "unit_norm_{n}",
        "update_ratio",
        "whiteness_K",
        "x_norm",
        "x_norm_{side}",
    ]

    /// Whether `name` is an instance of `template` (each `{…}` matches one or more letters or digits).
    public static func matches(_ name: String, template: String) -> Bool {
        var n = Substring(name), t = Substring(template)
        while let open = t.firstIndex(of: "{") {
            let literal = t[..<open]
            guard n.hasPrefix(literal) else { return false }
            n = n.dropFirst(literal.count)
            t = t[t.index(after: t.firstIndex(of: "}")!)...]
            // The wildcard takes the shortest run of letters/digits after which the rest can match.
            var taken = 0
            while taken < n.count, n[n.index(n.startIndex, offsetBy: taken)].isLetter || n[n.index(n.startIndex, offsetBy: taken)].isNumber {
                taken += 1
                if matches(String(n.dropFirst(taken)), template: String(t)) { return true }
            }
            return false
        }
        return n == t
    }

    /// Whether a study's monitor pattern (a name, or a prefix ending in `*`) can match some emitted name.
    public static func matchesSome(_ pattern: String) -> Bool {
        guard pattern.hasSuffix("*") else { return templates.contains { matches(pattern, template: $0) } }
        let prefix = pattern.dropLast()
        return templates.contains { t in
            let literal = t.prefix { $0 != "{" }
            return literal.hasPrefix(prefix) || (literal.count < t.count && prefix.hasPrefix(literal))
        }
    }
}
