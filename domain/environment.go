package domain

// Environment is one of the three fixed environments a secret has a value in.
type Environment string

// The environments, in display order.
const (
	Development Environment = "development"
	Staging     Environment = "staging"
	Production  Environment = "production"
)

// Environments lists every environment in display order.
func Environments() []Environment { return []Environment{Development, Staging, Production} }

// ParseEnvironment accepts an environment slug and rejects anything else.
func ParseEnvironment(s string) (Environment, error) {
	switch Environment(s) {
	case Development, Staging, Production:
		return Environment(s), nil
	}
	return "", Invalid("env", "must be one of development, staging, production")
}

// DisplayName is the environment's human name, as the API's environments list shows it.
func (e Environment) DisplayName() string {
	switch e {
	case Development:
		return "Development"
	case Staging:
		return "Staging"
	case Production:
		return "Production"
	}
	return string(e)
}
