package aks

import "testing"

func TestSubscriptionsResolve(t *testing.T) {
	const dev, prod = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
	s := NewSubscriptions(map[string]string{"prod": prod, "dev": dev}, "dev")
	for in, want := range map[string]string{"": dev, "dev": dev, "prod": prod, prod: prod, "22222222-2222-2222-2222-22222222222A": ""} {
		got, err := s.Resolve(in)
		if want == "" {
			if err == nil {
				t.Errorf("Resolve(%q) = %v, want an error", in, got)
			}
			continue
		}
		if err != nil || got.ID != want {
			t.Errorf("Resolve(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	_, err := s.Resolve("stage")
	if err == nil || err.Error() == "" || !contains(err.Error(), `unknown subscription "stage": known: dev, prod`) {
		t.Errorf("Resolve(stage) = %v", err)
	}
	if s.Label(dev) != "dev" || s.Label("") != "dev" {
		t.Errorf("Label: %q %q", s.Label(dev), s.Label(""))
	}
	one := NewSubscriptions(map[string]string{prod: prod}, prod)
	if one.Label(prod) != "" {
		t.Errorf("with one subscription Label must be empty, got %q", one.Label(prod))
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
