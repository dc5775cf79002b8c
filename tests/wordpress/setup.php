<?php
// Installs a fresh WordPress for a test: a new database on the machine's MariaDB, the site,
// an administrator and an application password (printed on stdout, the only output).
// Usage: php setup.php <database> <host:port> <pretty|plain>
[$_, $database, $host, $permalinks] = $argv;
$db = new mysqli('127.0.0.1', 'root', '', '', 3306);
$db->query("DROP DATABASE IF EXISTS `$database`");
$db->query("CREATE DATABASE `$database` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
$db->close();

$_SERVER['HTTP_HOST'] = $host;
$_SERVER['REQUEST_URI'] = '/';
define('WP_INSTALLING', true);
ob_start();
require __DIR__ . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$installed = wp_install('AI 블로그', 'admin', 'admin@example.org', false, '', 'admin-password-0123');
// An empty site: no "Hello world!" post, sample page or privacy policy draft.
foreach (get_posts(['post_type' => 'any', 'post_status' => 'any', 'numberposts' => -1]) as $p) {
    wp_delete_post($p->ID, true);
}
global $wp_rewrite;
$wp_rewrite->set_permalink_structure($permalinks === 'pretty' ? '/%postname%/' : '');
$wp_rewrite->flush_rules(false);
[$password] = WP_Application_Passwords::create_new_application_password(
    $installed['user_id'],
    ['name' => 'blogflow']
);
ob_end_clean();
echo $password;
