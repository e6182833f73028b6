package pgtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
)

// containerImage is the PostgreSQL image tests use when Docker is available.
const containerImage = "postgres:17-alpine"

// dockerProbeTimeout bounds the question "does a Docker engine answer?", so a
// machine without one (or with a dead socket) costs at most this long.
const dockerProbeTimeout = 3 * time.Second

// dockerAnswers asks testcontainers for its provider's health. The probe runs
// in its own goroutine because testcontainers looks for the Docker host with
// a background context of its own (and panics in some paths); a probe that
// neither answers nor fails in time counts as no Docker.
func dockerAnswers(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, dockerProbeTimeout)
	defer cancel()
	result := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				result <- fmt.Errorf("docker probe panicked: %v", r)
			}
		}()
		provider, err := testcontainers.NewDockerProvider()
		if err != nil {
			result <- err
			return
		}
		result <- provider.Health(ctx) // Health also closes the provider
	}()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return fmt.Errorf("docker probe: %w", ctx.Err())
	}
}

// startContainer runs PostgreSQL in a container, tuned like the local test
// cluster. testcontainers' reaper removes it even if this binary is killed.
func startContainer(ctx context.Context) (*server, error) {
	ctr, err := postgres.Run(ctx, containerImage,
		testcontainers.WithCmd("postgres",
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "max_connections=200",
		),
		postgres.BasicWaitStrategies(),
	)
	if err != nil {
		if ctr != nil {
			err = errors.Join(err, ctr.Terminate(context.WithoutCancel(ctx)))
		}
		return nil, fmt.Errorf("start %s container: %w", containerImage, err)
	}
	adminURL, err := ctr.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		return nil, errors.Join(fmt.Errorf("container connection string: %w", err), ctr.Terminate(context.WithoutCancel(ctx)))
	}
	terminate := func(ctx context.Context) error { return ctr.Terminate(ctx) }
	srv, err := newServer(ctx, "PostgreSQL container", adminURL, terminate)
	if err != nil {
		return nil, errors.Join(err, terminate(context.WithoutCancel(ctx)))
	}
	return srv, nil
}
