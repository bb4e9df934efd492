package database

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"taskflow/models"
)

// Users stores local accounts. Passwords come in plain and are hashed
// here; the hash never leaves this package.
type Users struct {
	db     *gorm.DB
	hasher *passwordHasher
}

// NewUsers returns the account store over db.
func NewUsers(db *gorm.DB) *Users {
	return &Users{db: db, hasher: newPasswordHasher(defaultArgon2)}
}

// errInvalidCredentials is the one answer to a failed login, whether the
// email is unknown or the password wrong.
func errInvalidCredentials() error {
	return models.Errorf(models.CodeUnauthorized, "invalid email or password")
}

// Create registers an account. The email must already be normalized
// (models.NormalizeEmail); an email already registered is a conflict.
func (s *Users) Create(ctx context.Context, reg models.Registration) (models.User, error) {
	hash, err := s.hasher.hash(ctx, reg.Password)
	if err != nil {
		return models.User{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return models.User{}, classify(err)
	}
	now := storeTime()
	row := userRow{ID: id.String(), Email: reg.Email, Name: reg.Name, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		err = classify(err)
		if models.ErrorCode(err) == models.CodeConflict {
			return models.User{}, &models.Error{Code: models.CodeConflict, Message: "this email is already registered", Cause: err}
		}
		return models.User{}, err
	}
	return row.user(), nil
}

// Authenticate returns the account with this email and password. An
// unknown email costs the same hashing work as a wrong password, and both
// give the same unauthorized error.
func (s *Users) Authenticate(ctx context.Context, email, password string) (models.User, error) {
	var row userRow
	err := s.db.WithContext(ctx).Where("email = ?", email).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if err := s.hasher.burnDummy(ctx, password); err != nil {
			return models.User{}, err
		}
		return models.User{}, errInvalidCredentials()
	}
	if err != nil {
		return models.User{}, classify(err)
	}
	match, outdated, err := s.hasher.verify(ctx, row.PasswordHash, password)
	if err != nil {
		return models.User{}, classify(err)
	}
	if !match {
		return models.User{}, errInvalidCredentials()
	}
	if outdated {
		s.upgradeHash(ctx, row.ID, password)
	}
	return row.user(), nil
}

// upgradeHash re-hashes a password whose stored hash used older argon2
// parameters. It is best effort: the login has succeeded either way.
func (s *Users) upgradeHash(ctx context.Context, id, password string) {
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return
	}
	_ = s.db.WithContext(ctx).Model(&userRow{}).Where("id = ?", id).
		Updates(map[string]any{"password_hash": hash, "updated_at": storeTime()}).Error
}

// Get returns the account with this id.
func (s *Users) Get(ctx context.Context, id string) (models.User, error) {
	var row userRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return models.User{}, classify(err)
	}
	return row.user(), nil
}

// DeleteAccount deletes a local account with everything kept about it
// (its refresh tokens, and its data: see deleteOwnedData) and refuses all
// its tokens, in one transaction. No such account is not found, and then
// nothing changes.
func (s *Users) DeleteAccount(ctx context.Context, id string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ?", id).Delete(&userRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return gorm.ErrRecordNotFound
		}
		if err := tx.Where("user_id = ?", id).Delete(&refreshTokenRow{}).Error; err != nil {
			return err
		}
		if err := writeCutoff(tx, id, true); err != nil {
			return err
		}
		return deleteOwnedData(tx, id)
	})
	return classify(err)
}

// Rename sets the name of account id (nil clears it) and returns the
// account.
func (s *Users) Rename(ctx context.Context, id string, name *string) (models.User, error) {
	res := s.db.WithContext(ctx).Model(&userRow{}).Where("id = ?", id).
		Updates(map[string]any{"name": name, "updated_at": storeTime()})
	if res.Error != nil {
		return models.User{}, classify(res.Error)
	}
	if res.RowsAffected == 0 {
		return models.User{}, classify(gorm.ErrRecordNotFound)
	}
	return s.Get(ctx, id)
}

// ChangePassword replaces the password of account id when current is its
// password (else the unauthorized error of a failed login). In the same
// transaction it revokes every refresh token family of the account and
// refuses its access tokens issued up to now; then it settles the cutoff
// past that commit (see settleCutoff), so that no session begun with the
// old password survives, not even one whose login was checking it then.
func (s *Users) ChangePassword(ctx context.Context, id, current, next string) error {
	var row userRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return classify(err)
	}
	match, _, err := s.hasher.verify(ctx, row.PasswordHash, current)
	if err != nil {
		return classify(err)
	}
	if !match {
		return models.Errorf(models.CodeUnauthorized, "the current password is wrong")
	}
	hash, err := s.hasher.hash(ctx, next)
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&userRow{}).Where("id = ?", id).
			Updates(map[string]any{"password_hash": hash, "updated_at": storeTime()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return gorm.ErrRecordNotFound
		}
		return revokeEverything(tx, id)
	})
	if err != nil {
		return classify(err)
	}
	return settleCutoff(ctx, s.db, id)
}

// DeleteData deletes the account of userID, an external user (whose
// sessions belong to the frontend, which keeps no account here): everything
// kept about it, as DeleteAccount does, and, in the same transaction, a
// cutoff that records the deletion and refuses the user's tokens issued up
// to now. A token the frontend issues afterwards is a new, empty account of
// the same user.
func (s *Users) DeleteData(ctx context.Context, userID string) error {
	return classify(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := writeCutoff(tx, userID, true); err != nil {
			return err
		}
		return deleteOwnedData(tx, userID)
	}))
}

// deleteOwnedData deletes everything kept about userID's data: its
// task-tag links, tasks, tags and projects, and what was kept to replay
// them (idempotency keys and batch results, whose stored answers hold
// task and tag data; temporary ids, tombstones; the change feed's events
// and tickets, see eraseFeed). It sets the user's task and tag counts to
// zero and takes a new id of the user's sequence that every sync from an
// earlier cursor must start over from (PrunedThrough): with the
// tombstones gone, only a full copy tells a client that nothing is left.
// The counter goes first: that locks it, so a create running beside it
// either committed before (and its rows and event are deleted here) or
// waits for this transaction and counts from zero. The links go
// explicitly, rather than trusting ON DELETE CASCADE to be enabled on
// every connection.
func deleteOwnedData(tx *gorm.DB, userID string) error {
	err := tx.Exec("UPDATE event_counters SET tasks = 0, tags = 0, seq = seq + 1, pruned_through = seq + 1 WHERE user_id = ?", userID).Error
	if err != nil {
		return err
	}
	err = tx.Exec("DELETE FROM task_tags WHERE task_id IN (SELECT id FROM tasks WHERE user_id = ?)"+
		" OR tag_id IN (SELECT id FROM tags WHERE user_id = ?)", userID, userID).Error
	if err != nil {
		return err
	}
	for _, row := range []any{&taskRow{}, &tagRow{}, &projectRow{}, &idempotencyKeyRow{}, &tempIDRow{}, &tombstoneRow{}} {
		if err := tx.Where("user_id = ?", userID).Delete(row).Error; err != nil {
			return err
		}
	}
	return eraseFeed(tx, userID)
}

func (r userRow) user() models.User {
	return models.User{ID: r.ID, Email: r.Email, Name: r.Name, CreatedAt: r.CreatedAt.UTC()}
}
