package client

import (
	"context"
	"net/http"

	"github.com/keyledger/keyledger/httpapi/wire"
)

// DataKey is one version of an organization's data key: its state is active (new data
// is sealed with it), retired (it still opens what it sealed) or destroyed.
type DataKey = wire.DataKey

// ListDataKeys lists an organization's data-key versions, oldest first (owner or admin).
func (c *Client) ListDataKeys(ctx context.Context, org string, opts ...CallOption) ([]DataKey, error) {
	var out wire.List[DataKey]
	err := c.do(ctx, request{method: http.MethodGet, path: orgPath(org, "keys"), opts: opts}, &out)
	return out.Items, err
}

// RotateDataKey makes a new data-key version the organization's active one and returns
// it; everything sealed before still opens (owner or admin).
func (c *Client) RotateDataKey(ctx context.Context, org string, opts ...CallOption) (int, error) {
	var out wire.DataKeyRotated
	err := c.do(ctx, request{method: http.MethodPost, path: orgPath(org, "keys", "rotate"), opts: opts}, &out)
	return out.Version, err
}
