package infra_test

import (
	"fmt"
	"testing"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
	"gopkg.in/yaml.v3"
)

// renderedVars returns vars.yml as the playbook step receives it.
func renderedVars(t *testing.T, raw map[string]string) map[string]any {
	t.Helper()
	res := run(t, false, raw)
	env := get(synthtest.Commands(res.Cloud)["playbook"].Inputs, "environment").ObjectValue()
	var vars map[string]any
	if err := yaml.Unmarshal([]byte(env[ansible.EnvInventoryVars].SecretValue().Element.StringValue()), &vars); err != nil {
		t.Fatal(err)
	}
	return vars
}

func TestRenderedVars(t *testing.T) {
	pin, err := ansible.LoadPin()
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, false, config())
	ip := res.Outputs["publicIpv4"].Value
	for _, tc := range []struct {
		name string
		raw  map[string]string
		want map[string]any
	}{
		{"defaults", config(), map[string]any{
			"matrix_playbook_migration_validated_version": pin.MigrationVersion,
			"matrix_domain":                                            "example.org",
			"matrix_homeserver_implementation":                         "synapse",
			"matrix_playbook_reverse_proxy_type":                       "playbook-managed-traefik",
			"devture_systemd_docker_base_ipv6_enabled":                 true,
			"matrix_static_files_container_labels_base_domain_enabled": true,
			"matrix_client_element_enabled":                            true,
			"matrix_synapse_enable_registration":                       false,
			"matrix_synapse_registration_requires_token":               false,
			"matrix_synapse_enable_registration_without_verification":  false,
			"coturn_enabled":                                           false,
		}},
		{"token", config("matrix:registration", "token"), map[string]any{
			"matrix_synapse_enable_registration": true, "matrix_synapse_registration_requires_token": true,
			"matrix_synapse_enable_registration_without_verification": false,
		}},
		{"open", config("matrix:registration", "open"), map[string]any{
			"matrix_synapse_enable_registration": true, "matrix_synapse_registration_requires_token": false,
			"matrix_synapse_enable_registration_without_verification": true,
		}},
		{"turn", config("matrix:turn", "true"), map[string]any{"coturn_enabled": true, "coturn_turn_external_ip_addresses": []any{ip}}},
		{"calls", config("matrix:calls", "element-call"), map[string]any{
			"matrix_element_call_enabled": true, "matrix_rtc_enabled": true, "livekit_server_config_rtc_node_ip": ip,
		}},
		{"toggles off", config("matrix:ipv6", "false", "matrix:element", "false", "matrix:serveBaseDomain", "false"), map[string]any{
			"devture_systemd_docker_base_ipv6_enabled": false, "matrix_client_element_enabled": false,
			"matrix_static_files_container_labels_base_domain_enabled": false,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars := renderedVars(t, tc.raw)
			for k, v := range tc.want {
				if fmt.Sprint(vars[k]) != fmt.Sprint(v) {
					t.Errorf("%s = %v, want %v", k, vars[k], v)
				}
			}
			for _, name := range []string{"matrix_element_call_enabled", "matrix_rtc_enabled", "livekit_server_config_rtc_node_ip"} {
				if _, ok := vars[name]; ok != (tc.name == "calls") {
					t.Errorf("%s rendered: %v", name, ok)
				}
			}
			key, _ := vars["matrix_homeserver_generic_secret_key"].(string)
			pw, _ := vars["postgres_connection_password"].(string)
			if len(key) != 64 || len(pw) == 0 || len(pw) >= 100 {
				t.Errorf("secret key %d chars, postgres password %d chars", len(key), len(pw))
			}
			for _, obsolete := range []string{"matrix_ssl_lets_encrypt_support_email", "matrix_postgres_connection_password", "matrix_nginx_proxy_base_domain_serving_enabled"} {
				if _, ok := vars[obsolete]; ok {
					t.Errorf("obsolete variable %s rendered", obsolete)
				}
			}
		})
	}
}
